-- Named queries. Each block starts with '-- name: <name>'; loaded once by sql.queries().

-- name: ping
SELECT 1
