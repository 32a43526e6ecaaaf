#!/bin/sh
# Fixture for build/tests/test_sli_query: a private PostgreSQL, as for
# test_burn (tests/integration/test_burn.sh, which documents it).
#
#   sh tests/integration/test_sli_query.sh build/tests/test_sli_query [CRITERION ARGS...]
exec sh "$(dirname "$0")/test_burn.sh" "$@"
