import { PassThrough } from 'node:stream';
import { MAX_PASSWORD_BYTES } from '../../../core/policy-limits.js';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Context } from '../../../core/context.js';
import { MailpassdError } from '../../../core/errors.js';
import { normalizeAddress } from '../../../core/address.js';
import { checkCandidate, checkNewCandidate } from '../../../accounts/password.js';
import { generateOffThread } from '../../../policy/off-thread.js';
import { rotateAndWait } from '../../../rotation/service.js';
import type { NodeOutcome } from '../../../rotation/wait.js';
import { sendProblem } from '../../problem.js';
import type { RouteGroup } from '../../admin/deps.js';
import { actorOf, ConsoleStop, isAdmin, reachDomain, sessionOf } from '../guard.js';
import { checkAnswer, domainPolicy, refusalTexts } from '../policy-view.js';
import { nodeLine, summaryOf } from '../progress.js';
import { WindowLimit } from '../rate.js';
import { reachMailbox } from './mailbox-actions.js';

const CANDIDATE = Type.String({ maxLength: MAX_PASSWORD_BYTES });
const CheckBody = Type.Object(
  {
    password: CANDIDATE,
    /** An existing mailbox; or, with `domain`, the address being created (local part or full). */
    address: Type.String({ maxLength: 320 }),
    domain: Type.Optional(Type.String({ maxLength: 253 })),
    name: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
const GenerateBody = Type.Object({ address: Type.String({ maxLength: 320 }), domain: Type.Optional(Type.String({ maxLength: 253 })), name: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false });
const ChangeBody = Type.Object({ address: Type.String({ maxLength: 320 }), password: CANDIDATE }, { additionalProperties: false });

/**
 * The JSON the page scripts call (session cookie + X-CSRF-Token, checked for
 * every POST in plugin.ts). The candidate password is in the body only: never
 * logged (fastify's request logging is off; our lines name the address and the
 * rule codes), never stored, never echoed.
 */
export const apiRoutes: RouteGroup = async (app, { ctx, deps }) => {
  const checks = new WindowLimit(30, 10_000);
  const generates = new WindowLimit(10, 10_000);
  const throttled = (req: FastifyRequest, reply: FastifyReply, what: string) => {
    req.log.info({ user: sessionOf(req).address, client_ip: req.via.clientIp, endpoint: what }, 'console api throttled');
    return sendProblem(reply, 'throttled', 'too many requests; slow down');
  };

  app.post<{ Body: Static<typeof CheckBody> }>('/console/api/policy-check', { schema: { body: CheckBody } }, async (req, reply) => {
    const session = sessionOf(req);
    if (!checks.take(session.id)) return throttled(req, reply, 'policy-check');
    const { password, domain: newIn, name } = req.body;
    const target = await subjectOf(ctx, req, req.body.address, newIn);
    const policy = await domainPolicy(ctx, target.domain);
    const result = target.isNew ? await checkNewCandidate(ctx, target.address, name?.trim() || null, password) : await checkCandidate(ctx, target.address, password);
    return reply.header('cache-control', 'no-store').send(checkAnswer(policy, req.lang, result));
  });

  app.post<{ Body: Static<typeof GenerateBody> }>('/console/api/generate', { schema: { body: GenerateBody } }, async (req, reply) => {
    const session = sessionOf(req);
    if (!isAdmin(session)) throw new ConsoleStop('not_found');
    if (!generates.take(session.id)) return throttled(req, reply, 'generate');
    const target = await subjectOf(ctx, req, req.body.address, req.body.domain);
    const policy = await domainPolicy(ctx, target.domain);
    const password = await generateOffThread({ address: target.address, displayName: req.body.name?.trim() || target.displayName }, policy);
    return reply.header('cache-control', 'no-store').send({ password });
  });

  /**
   * The admin's change, streamed as NDJSON: one `progress` line each time a node's
   * state changes, then `done` with the summary. A refusal before anything
   * changed (the policy, a bad input) is a plain problem+json answer instead.
   */
  app.post<{ Body: Static<typeof ChangeBody> }>('/console/api/password', { schema: { body: ChangeBody } }, async (req, reply) => {
    const session = sessionOf(req);
    if (!isAdmin(session)) throw new ConsoleStop('not_found');
    const { row } = await reachMailbox(ctx, req, domainOfAddress(req.body.address), req.body.address);
    const t = req.t;
    const waitMs = ctx.config.rotation.wait_ms;
    const started = performance.now();
    const stream = new PassThrough();
    let open = false;
    let last = '';
    const write = (obj: unknown) => stream.write(`${JSON.stringify(obj)}\n`);
    const begin = () => {
      if (open) return;
      open = true;
      void reply.code(200).header('cache-control', 'no-store').header('x-accel-buffering', 'no').type('application/x-ndjson; charset=utf-8').send(stream);
    };
    const onProgress = (nodes: NodeOutcome[]) => {
      const lines = nodes.map((n) => nodeLine(t, n, false, waitMs));
      const key = JSON.stringify(lines.map((l) => [l.node_id, l.state]));
      if (key === last) return; // the wait polls every 20 ms: only changes go out
      last = key;
      begin();
      write({ type: 'progress', nodes: lines });
    };
    try {
      const result = await rotateAndWait(ctx, deps.metrics, actorOf(req), { address: row.address, password: { kind: 'given', value: req.body.password }, kick: true, reason: 'rotate', waitMs }, onProgress);
      const lines = result.nodes.map((n) => nodeLine(t, n, true, waitMs));
      const slowest = Math.max(0, ...lines.map((l) => l.applied_ms ?? 0));
      const seconds = slowest > 0 ? slowest / 1000 : (performance.now() - started) / 1000;
      begin();
      write({ type: 'done', nodes: lines, summary: summaryOf(t, lines, seconds, result.complete) });
      stream.end();
      return reply;
    } catch (err) {
      if (open) {
        req.log.error({ err: (err as Error).message, user: row.address }, 'console: rotation failed while streaming');
        write({ type: 'error', code: err instanceof MailpassdError ? err.code : 'internal_error', text: t.errorTitle });
        stream.end();
        return reply;
      }
      if (err instanceof MailpassdError && err.kind === 'refused') {
        const texts = refusalTexts(err.details, req.lang);
        return sendProblem(reply, err.code, texts.join(' ') || err.message, { violations: ((err.details.violations as Array<{ code: string }> | undefined) ?? []).map((v, i) => ({ code: v.code, text: texts[i] ?? '' })) });
      }
      throw err;
    }
  });
};

function domainOfAddress(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1);
}

/**
 * Whose password is checked: an owner only their own mailbox; an admin a
 * mailbox in a domain it reaches, or (with `domain`) one being created there.
 */
async function subjectOf(ctx: Context, req: FastifyRequest, rawAddress: string, newIn: string | undefined) {
  const session = sessionOf(req);
  if (newIn !== undefined) {
    const { domain } = reachDomain(req, newIn);
    const raw = rawAddress.trim();
    let address: string;
    try {
      address = normalizeAddress(raw.includes('@') ? raw : `${raw || 'new'}@${domain}`).address;
    } catch {
      address = `new@${domain}`; // not an address yet (still being typed): check against the domain alone
    }
    if (!address.endsWith(`@${domain}`)) throw new ConsoleStop('not_found');
    return { isNew: true, address, domain, displayName: null };
  }
  if (!isAdmin(session)) {
    let address: string;
    try {
      address = normalizeAddress(rawAddress).address;
    } catch {
      throw new ConsoleStop('not_found');
    }
    if (address !== session.address) throw new ConsoleStop('not_found');
    return { isNew: false, address, domain: domainOfAddress(address), displayName: session.displayName };
  }
  // An admin checking its own mailbox (on /me) goes through here too.
  if (canonical(rawAddress) === session.address) return { isNew: false, address: session.address, domain: domainOfAddress(session.address), displayName: session.displayName };
  const { row, domain } = await reachMailbox(ctx, req, domainOfAddress(rawAddress), rawAddress);
  return { isNew: false, address: row.address, domain, displayName: row.display_name };
}

function canonical(raw: string): string {
  try {
    return normalizeAddress(raw).address;
  } catch {
    return '';
  }
}
