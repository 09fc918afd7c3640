#!/bin/sh
# The orders writer of the docker-compose stack: every 100 ms one transaction
# that inserts RATE/10 orders and moves as many recent open ones a status
# further (recent: the newest 2,000, so that a tick stays cheap as the table grows).
# Connection from the libpq environment (PGHOST, PGUSER, PGPASSWORD, ...).
set -eu
rate=${RATE:-300}
per_tick=$(( (rate + 9) / 10 ))
while :; do
    psql -X -q -v ON_ERROR_STOP=1 -c "
        INSERT INTO orders (customer, amount, status)
            SELECT 'customer ' || (random() * 97)::int, round((5 + random() * 495)::numeric, 2), 'new'
            FROM generate_series(1, $per_tick);
        UPDATE orders SET updated_at = clock_timestamp(),
               status = CASE status WHEN 'new' THEN 'paid' WHEN 'paid' THEN 'shipped' ELSE 'delivered' END
         WHERE id IN (SELECT id FROM orders
                       WHERE id > (SELECT max(id) - 2000 FROM orders) AND status <> 'delivered'
                       ORDER BY random() LIMIT $per_tick);"
    sleep 0.1
done
