// The warm-auth baseline, run as its own process like the daemon: a bare fastify
// server whose one POST route does the same indexed SELECT of the mailbox row the
// daemon's hot path does, on the same database, with the same pool size. It does no
// body validation, no auth logic and no logging — it is the floor any HTTP+PostgreSQL
// passdb on this stack pays, so "mailpassd / baseline" is the cost of everything else.
import Fastify from 'fastify';
import pg from 'pg';

const { BASELINE_DATABASE_URL: url, BASELINE_PORT: port, BASELINE_POOL_SIZE: poolSize = '10' } = process.env;
const pool = new pg.Pool({ connectionString: url, max: Number(poolSize) });
const app = Fastify({ logger: false });

app.get('/healthz', async () => ({ status: 'ok' }));
app.post<{ Body: { user: string } }>('/v1/passdb/verify', async (req) => {
  const r = await pool.query({ name: 'mailbox-get', text: 'SELECT * FROM mailboxes WHERE address = $1', values: [req.body.user] });
  return { result: r.rows[0] ? 'ok' : 'user_unknown' };
});

await app.listen({ host: '127.0.0.1', port: Number(port) });
const shutdown = () =>
  app
    .close()
    .then(() => pool.end())
    .then(() => process.exit(0));
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
