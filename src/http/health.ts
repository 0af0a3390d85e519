import type { Context } from '../context.js';
import { pendingMigrations } from '../store/migrate.js';
import type { App } from './server.js';

/** `/healthz`: the process answers. `/readyz`: the database answers and the schema is current. */
export function registerHealth(app: App, ctx: Context): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      const pending = await pendingMigrations(ctx.pool);
      if (pending.length > 0) return reply.code(503).send({ status: 'not_ready', reason: `pending migrations: ${pending.join(', ')}` });
      return { status: 'ready' };
    } catch (err) {
      return reply.code(503).send({ status: 'not_ready', reason: `database unavailable: ${(err as Error).message.split('\n')[0]}` });
    }
  });
}
