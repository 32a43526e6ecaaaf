#!/bin/sh
# Fixture for build/tests/test_api_read: a private PostgreSQL, as for
# test_burn (tests/integration/test_burn.sh, which documents it).
#
#   sh tests/integration/test_api_read.sh build/tests/test_api_read [CRITERION ARGS...]
exec sh "$(dirname "$0")/test_burn.sh" "$@"
