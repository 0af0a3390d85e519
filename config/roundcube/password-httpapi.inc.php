<?php
// password-httpapi.inc.php - the no-copy alternative to password.inc.php:
// Roundcube's password plugin (verified with Debian 12 roundcube-plugins
// 1.6.5) with its generic `httpapi` driver, changing mailbox passwords through
// mailpassd's self-service endpoint POST /v1/self-service/password on the
// admin listener. Nothing is copied into Roundcube and no shared secret is
// needed, but the user never reads which rule failed (see below); the
// mailpassd driver (mailpassd.php + password.inc.php) names it.
//
// Install (Debian 12):
//   apt-get install roundcube-plugins
//   cp password-httpapi.inc.php /etc/roundcube/plugins/password/config.inc.php
//   # and enable the plugin in /etc/roundcube/config.inc.php:
//   #   $config['plugins'] = ['password', /* ... your other plugins */];
// (Or paste the settings below into Roundcube's main config.inc.php: the
// plugin reads its settings from there too; the last assignment wins.)
//
// What happens on "Save": the plugin checks the new password against its own
// settings below, checks the IMAP connection, then the httpapi driver POSTs
// the three fields form-encoded. mailpassd verifies `curpass` like a login
// (same throttle), applies its password policy (length, classes, personal
// details, strength, no reuse), changes the password on every node (Dovecot
// auth cache flushed, old sessions kicked) and answers `200 ok`. The plugin
// then stores the new password in the Roundcube session, so the webmail
// session reconnects with it.
//
// Answers and what the user sees:
//   200 "ok"                 -> "Successfully saved."
//   403 wrong current pw     -> "Could not save new password."
//   422 policy refusal       -> "Could not save new password." (the failed
//                               rules are in Roundcube's error log; the
//                               httpapi driver cannot show a reason)
//   429 throttled            -> "Could not save new password."
//   404, 5xx, no answer      -> "... Connection error."
// mailpassd's answers never contain a password, so the error log does not either.

// The generic HTTP driver.
$config['password_driver'] = 'httpapi';

// mailpassd's ADMIN listener (MAILPASSD_ADMIN_LISTEN, default 127.0.0.1:7412) -
// not the auth listener, which only Dovecot may use. No token is needed for
// this route: the current password is the credential. If Roundcube runs on
// another host, put the admin listener behind TLS and use https:// here.
$config['password_httpapi_url'] = 'http://127.0.0.1:7412/v1/self-service/password';

// POST sends the fields form-encoded in the body. Never GET: the query string
// (and the passwords in it) would end up in access logs.
$config['password_httpapi_method'] = 'POST';

// The field names mailpassd expects. The driver has no defaults: a field whose
// name is not configured is not sent at all, so all three must be named.
$config['password_httpapi_var_user'] = 'user';
$config['password_httpapi_var_curpass'] = 'curpass';
$config['password_httpapi_var_newpass'] = 'newpass';

// Success is a 2xx whose body is exactly "ok".
$config['password_httpapi_expect'] = '/^ok$/';

// Guzzle throws on every 4xx/5xx by default, which the driver reports as a
// "connection error" even for a wrong current password or a refused new one.
// With http_errors off, 403/422/429 are reported as "Could not save new
// password." The timeout leaves room for mailpassd to confirm the change on
// the mail nodes (it waits up to 2 s for them).
$config['password_http_client'] = ['http_errors' => false, 'timeout' => 10];

// Ask for the current password (it is sent as `curpass`). When off, the plugin
// sends the password of the current webmail session instead.
$config['password_confirm_current'] = true;

// The plugin's own checks run before mailpassd is asked; keep them no stricter
// than mailpassd's policy (policy.min_length, default 12) so users are told
// early. mailpassd's policy has the last word either way.
$config['password_minimum_length'] = 12;
$config['password_minimum_score'] = 0;

// The login name as Roundcube knows it: the full address (with
// username_domain already applied). mailpassd matches it case-insensitively.
$config['password_username_format'] = '%u';
