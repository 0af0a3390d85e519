import { Type, type Static } from '@sinclair/typebox';
import { resetTotp, totpStatus } from '../../accounts/totp.js';
import type { RouteGroup } from './deps.js';
import { AddressParam } from './schemas.js';
import { visibleAddress } from './scope.js';

const errors = {
  400: { $ref: 'Problem#' },
  401: { $ref: 'Problem#' },
  404: { $ref: 'Problem#' },
  503: { $ref: 'Problem#' },
};

const Status = Type.Object({
  address: Type.String(),
  enabled: Type.Boolean({ description: 'TOTP is on: the console asks for a code, mail clients need app passwords' }),
  pending: Type.Boolean({ description: 'enrolment started, not confirmed with a code yet' }),
  enabled_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  recovery_codes_left: Type.Integer(),
});
const Reset = Type.Object({
  address: Type.String(),
  was_enabled: Type.Boolean({ description: 'false: only an unconfirmed enrolment was removed' }),
  recovery_codes_removed: Type.Integer({ description: 'unused recovery codes removed' }),
  console_sessions_ended: Type.Integer(),
});

/**
 * A mailbox's console second factor, for admins (issue 13): its status, and the
 * reset for a user who lost the phone and the recovery codes. A domain-scoped
 * token reaches its own domain only, like every mailbox route. DELETE of a
 * mailbox without TOTP is 404 `totp_not_enrolled` (nothing to reset).
 */
export const totpRoutes: RouteGroup = async (app, { ctx }) => {
  type Address = { Params: Static<typeof AddressParam> };

  app.get<Address>('/v1/mailboxes/:address/totp', { schema: { tags: ['totp'], params: AddressParam, response: { 200: Status, ...errors } } }, async (req) =>
    totpStatus(ctx, visibleAddress(req, req.params.address)),
  );

  app.delete<Address>(
    '/v1/mailboxes/:address/totp',
    {
      schema: {
        tags: ['totp'],
        description: "Removes the TOTP secret and the recovery codes and ends the mailbox's console sessions; the password alone signs in again.",
        params: AddressParam,
        response: { 200: Reset, ...errors },
      },
    },
    async (req) => resetTotp(ctx, req.actor, visibleAddress(req, req.params.address)),
  );
};
