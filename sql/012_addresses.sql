-- 012_addresses.sql - issue 10, the rest of "Detection".
--
-- Revocation by CRL and session resumption: the probe has reported these
-- since 009 (crl_status none / good / revoked / unavailable with the
-- revocation or first CRL problem in crl_detail; resume_detail: why a
-- resumption did not happen or was not tried), but only its JSON carried
-- them. Stored per result like ocsp_error, for the API and the reports.
ALTER TABLE results ADD COLUMN crl_status text,
	ADD COLUMN crl_detail text,
	ADD COLUMN resume_detail text;

-- Every address behind a name (probe.yaml `addresses: all`) needs no new
-- column: one result per A/AAAA address, results.address the one connected
-- to (001). The rule addr_cert_mismatch (collector/rules_addr.c) reads the
-- last hour of results as the other certificate rules do (partition pruning
-- on started_at).
