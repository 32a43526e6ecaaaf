#!/bin/sh
# Fixture for build/tests/test_notify_outbox: the same PostgreSQL, receiver
# ports and Alertmanager port as test_notify (tests/integration/
# test_notify.sh, which documents them); its own instance of each.
#
#   sh tests/integration/test_notify_outbox.sh build/tests/test_notify_outbox [CRITERION ARGS...]
exec sh "$(dirname "$0")/test_notify.sh" "$@"
