/**
 * How a password was changed, as a notice tells the owner. Derived from what
 * every change already records — the rotation's reason and the audit actor
 * (`cli:<user>`, `token:<name>`, `self:<address>`, `console:<address>`) — so
 * no caller can forget to say it and the notice cannot disagree with the audit
 * log. The console is checked first: a change made there is a console change
 * whether it was the owner's own or an administrator's.
 */
export type NoticeChannel = 'console' | 'self_service' | 'api' | 'cli' | 'other';

export function channelOf(reason: string, actor: string): NoticeChannel {
  if (actor.startsWith('console:')) return 'console';
  if (reason === 'self_service') return 'self_service';
  if (actor.startsWith('token:')) return 'api';
  if (actor.startsWith('cli:')) return 'cli';
  return 'other';
}
