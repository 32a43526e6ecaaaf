#!/bin/sh
# Fixture for build/tests/test_check_findings: the same PKI and servers as
# test_check (tests/integration/test_check.sh, which documents them).
#
#   sh tests/integration/test_check_findings.sh build/tests/test_check_findings [CRITERION ARGS...]
exec sh "$(dirname "$0")/test_check.sh" "$@"
