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
