-- 009_signals.sql - detection signals of issue 10 (probe/classify.c).
--
-- chain_invalid: a chain that reaches a trusted root, but where a CA in the
-- path may not issue what is below it (not a CA, path length, name
-- constraints, an unhandled critical extension). Trust layer, right after
-- chain_incomplete; the outcomes below it move down one rank so that rank
-- stays the precedence order of probe/classify.h.
UPDATE outcomes SET rank = rank + 1 WHERE rank >= 15;
INSERT INTO outcomes (name, layer, rank, success) VALUES
	('chain_invalid', 'trust', 15, false);

-- Stapled OCSP: why a response is not a valid answer (ocsp_status
-- 'invalid': stale, not_yet_valid, wrong_certificate,
-- unauthorized_responder, unverifiable, malformed, responder_error), and
-- whether the leaf names an OCSP responder at all (NULL: a probe older
-- than this field).
ALTER TABLE results ADD COLUMN ocsp_error text;
ALTER TABLE results ADD COLUMN ocsp_responder_named boolean;

-- M5 (OCSP stapling rate) counts only certificates that name a responder:
-- there is nothing to staple for the others (Let's Encrypt has issued
-- certificates without an OCSP URL since 2025). The rollups count the
-- completed handshakes whose leaf names none; M5 =
-- ocsp_stapled_count / (handshakes - ocsp_no_responder_count). Counting the
-- exceptions keeps the rows written before this migration (and results of
-- older probes, NULL) exactly as they were: every handshake counted.
ALTER TABLE rollup_1m ADD COLUMN ocsp_no_responder_count bigint NOT NULL DEFAULT 0;
ALTER TABLE rollup_1h ADD COLUMN ocsp_no_responder_count bigint NOT NULL DEFAULT 0;
