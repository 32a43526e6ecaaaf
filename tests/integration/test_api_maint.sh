#!/bin/sh
# Fixture for build/tests/test_api_maint: the one of test_api_read_http
# (tests/integration/test_api_read_http.sh documents it).
#
#   sh tests/integration/test_api_maint.sh build/tests/test_api_maint [CRITERION ARGS...]
exec sh "$(dirname "$0")/test_api_read_http.sh" "$@"
