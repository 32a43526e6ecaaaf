-- 001_init.sql - initial schema (placeholder until the collector storage lands)
SELECT 1;
