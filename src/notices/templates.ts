import { escapeHtml } from '@kitajs/html';
import type { NoticeChannel } from './channel.js';

import type { NOTICE_LANGUAGES } from './language.js';

export type Language = (typeof NOTICE_LANGUAGES)[number];

/** What a notice may say: never a password, never a link that carries a secret. */
export type NoticeContent =
  | { kind: 'password_changed'; address: string; recipient: string; at: Date; channel: NoticeChannel; sourceIp: string | null; changeUrl: string | null }
  | { kind: 'expiry_reminder'; address: string; expiresAt: Date; daysLeft: number; changeUrl: string | null };

export interface RenderedNotice {
  subject: string;
  /** Paragraphs, rendered as plain text and as simple HTML from one source. */
  paragraphs: string[];
}

/** Dates in UTC, spelled out, so no reader's time zone guess is needed. */
const when = (d: Date, lang: Language) =>
  new Intl.DateTimeFormat(lang === 'nl' ? 'nl-NL' : 'en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' }).format(d) + ' UTC';
const day = (d: Date, lang: Language) => new Intl.DateTimeFormat(lang === 'nl' ? 'nl-NL' : 'en-GB', { dateStyle: 'long', timeZone: 'UTC' }).format(d);

const CHANNEL: Record<Language, Record<NoticeChannel, string>> = {
  en: {
    console: 'in the web console',
    self_service: 'by the mailbox owner (webmail password form / self-service)',
    api: 'by an administrator through the admin API',
    cli: 'by an administrator on the server (command line)',
    other: 'by an administrator',
  },
  nl: {
    console: 'in de webconsole',
    self_service: 'door de eigenaar van de mailbox (wachtwoordformulier in webmail / zelfbediening)',
    api: 'door een beheerder via de beheer-API',
    cli: 'door een beheerder op de server (opdrachtregel)',
    other: 'door een beheerder',
  },
};

function changed(c: Extract<NoticeContent, { kind: 'password_changed' }>, lang: Language): RenderedNotice {
  const forRecovery = c.recipient !== c.address;
  if (lang === 'nl') {
    return {
      subject: `Wachtwoord gewijzigd voor ${c.address}`,
      paragraphs: [
        `Het wachtwoord van de mailbox ${c.address} is gewijzigd op ${when(c.at, lang)}, ${CHANNEL.nl[c.channel]}${c.sourceIp ? `, vanaf IP-adres ${c.sourceIp}` : ''}.`,
        ...(forRecovery ? [`U ontvangt dit bericht omdat dit adres is opgegeven als herstel-adres van ${c.address}.`] : []),
        'Was u dit zelf? Dan hoeft u niets te doen. Stel uw apparaten in met het nieuwe wachtwoord.',
        `Was u dit niet? Neem direct contact op met uw beheerder of helpdesk en laat het wachtwoord opnieuw instellen; controleer daarna de doorstuurregels en filters van de mailbox.${c.changeUrl ? ` Als u nog kunt inloggen, wijzig het wachtwoord dan zelf op ${c.changeUrl}.` : ''}`,
        'Dit bericht bevat nooit een wachtwoord of een link om het te herstellen; vertrouw berichten die daarom vragen niet. Dit is een automatisch bericht; antwoorden wordt niet gelezen.',
      ],
    };
  }
  return {
    subject: `Password changed for ${c.address}`,
    paragraphs: [
      `The password of the mailbox ${c.address} was changed on ${when(c.at, lang)}, ${CHANNEL.en[c.channel]}${c.sourceIp ? `, from IP address ${c.sourceIp}` : ''}.`,
      ...(forRecovery ? [`You receive this message because this address is the recovery address of ${c.address}.`] : []),
      'If this was you, nothing needs to be done. Set up your devices with the new password.',
      `If this was not you, contact your administrator or help desk right away and have the password reset; then check the mailbox's forwarding rules and filters.${c.changeUrl ? ` If you can still log in, change the password yourself at ${c.changeUrl}.` : ''}`,
      'This message never contains a password or a link to reset one; do not trust messages that ask for it. It was sent automatically; replies are not read.',
    ],
  };
}

function reminder(c: Extract<NoticeContent, { kind: 'expiry_reminder' }>, lang: Language): RenderedNotice {
  const expired = c.daysLeft <= 0;
  if (lang === 'nl') {
    const how = c.changeUrl ? `Wijzig het op ${c.changeUrl}, of in uw webmail onder Instellingen → Wachtwoord.` : 'Wijzig het in uw webmail onder Instellingen → Wachtwoord, of vraag uw beheerder.';
    return {
      subject: expired ? `Wachtwoord van ${c.address} verloopt vandaag` : `Wachtwoord van ${c.address} verloopt over ${c.daysLeft} ${c.daysLeft === 1 ? 'dag' : 'dagen'}`,
      paragraphs: [
        expired
          ? `Het wachtwoord van de mailbox ${c.address} verloopt vandaag (${when(c.expiresAt, lang)}). Daarna kunnen uw apparaten niet meer inloggen tot het is gewijzigd.`
          : `Het wachtwoord van de mailbox ${c.address} verloopt op ${day(c.expiresAt, lang)}.`,
        how,
        'Dit bericht bevat nooit een wachtwoord of een link om het te herstellen. Dit is een automatisch bericht; antwoorden wordt niet gelezen.',
      ],
    };
  }
  const how = c.changeUrl ? `Change it at ${c.changeUrl}, or in your webmail under Settings → Password.` : 'Change it in your webmail under Settings → Password, or ask your administrator.';
  return {
    subject: expired ? `Password of ${c.address} expires today` : `Password of ${c.address} expires in ${c.daysLeft} ${c.daysLeft === 1 ? 'day' : 'days'}`,
    paragraphs: [
      expired
        ? `The password of the mailbox ${c.address} expires today (${when(c.expiresAt, lang)}). After that your devices cannot log in until it is changed.`
        : `The password of the mailbox ${c.address} expires on ${day(c.expiresAt, lang)}.`,
      how,
      'This message never contains a password or a link to reset one. It was sent automatically; replies are not read.',
    ],
  };
}

export function renderNotice(content: NoticeContent, lang: Language): RenderedNotice {
  switch (content.kind) {
    case 'password_changed':
      return changed(content, lang);
    case 'expiry_reminder':
      return reminder(content, lang);
  }
}

export const asText = (r: RenderedNotice): string => `${r.paragraphs.join('\n\n')}\n`;

/** Simple HTML, every dynamic string escaped (addresses, URLs and IPs come from the database and requests). */
export const asHtml = (r: RenderedNotice, lang: Language): string =>
  `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><title>${escapeHtml(r.subject)}</title></head>` +
  `<body style="font-family: sans-serif; line-height: 1.4">${r.paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('')}</body></html>\n`;
