#!/bin/sh
# Fixture for build/tests/test_status: the same servers as test_api (a
# PostgreSQL and collectors whose probe port the test seeds through); the
# test runs `tlswatch-collector status` against A's configuration.
exec sh "$(dirname "$0")/test_api.sh" "$@"
