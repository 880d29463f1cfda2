-- A change notice on the channel other servers LISTEN on: $1 channel, $2 JSON payload.
SELECT pg_notify($1, $2)
