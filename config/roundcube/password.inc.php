<?php
// password.inc.php - Roundcube's password plugin (Roundcube 1.5/1.6; verified
// with Debian 12 roundcube-plugins 1.6.5) changing mailbox passwords through
// mailpassd's own driver, config/roundcube/mailpassd.php.
//
// Install (Debian 12):
//   apt-get install roundcube-plugins
//   cp mailpassd.php /usr/share/roundcube/plugins/password/drivers/mailpassd.php
//   cp password.inc.php /etc/roundcube/plugins/password/config.inc.php
//   # set password_mailpassd_secret below to mailpassd's self_service.secret, and
//   # enable the plugin in /etc/roundcube/config.inc.php:
//   #   $config['plugins'] = ['password', /* ... your other plugins */];
// (Or paste the settings below into Roundcube's main config.inc.php: the
// plugin reads its settings from there too; the last assignment wins.)
// Without copying a file into Roundcube: the generic httpapi driver against
// POST /v1/self-service/password, see README "Roundcube" - it can only say
// "Could not save new password." where this driver names the failed rule.
//
// What the user sees: the password page lists mailpassd's rules for the
// mailbox's domain; on "Save" a password that breaks one is refused before it
// is sent ("Password too weak. <the rule>"); then mailpassd verifies the
// current password like a login (own throttle), applies the whole policy
// (history included: "Could not save new password. The password was used
// before; ..."), changes the password on every node (Dovecot auth cache
// flushed, old sessions kicked) and the plugin answers "Successfully saved."
// The rules and refusals come in the user's Roundcube language where mailpassd
// has it (Dutch, English). mailpassd down: "Could not save new password.
// Connection error. The password service is unavailable; your password was
// not changed." - nothing is changed. mailpassd's answers never contain a
// password, so Roundcube's error log does not either.

// mailpassd's driver, also as the strength driver (rules list and pre-check).
$config['password_driver'] = 'mailpassd';
$config['password_strength_driver'] = 'mailpassd';

// mailpassd's ADMIN listener (MAILPASSD_ADMIN_LISTEN, default 127.0.0.1:7412) -
// not the auth listener, which only Dovecot may use. If Roundcube runs on
// another host, put the admin listener behind TLS and use https:// here.
$config['password_mailpassd_url'] = 'http://127.0.0.1:7412';

// mailpassd's self_service.secret (MAILPASSD_SELF_SERVICE_SECRET or
// self_service.secret_file): at least 16 characters, e.g.
//   head -c 32 /dev/urandom | base64
// Without it mailpassd answers the driver's routes 404 and nothing can change.
// With it mailpassd believes the X-Forwarded-For this driver sends (the end
// user's address, for its throttle and audit log).
$config['password_mailpassd_secret'] = '';

// The driver's HTTP client (Guzzle options); the driver reads every answer
// itself and sets a 10 s timeout unless one is given here.
// $config['password_http_client'] = ['verify' => '/etc/ssl/certs/my-ca.pem'];

// Ask for the current password (it is sent as `curpass`). When off, the plugin
// sends the password of the current webmail session instead.
$config['password_confirm_current'] = true;

// mailpassd's rules include the minimum length (in characters, where the
// plugin counts bytes): the plugin's own check and rule line would only repeat it.
$config['password_minimum_length'] = 0;

// The strength driver is only asked when a minimum score is set: 1 means
// "whatever mailpassd's policy says" (the driver answers 0 for a refused
// password, zxcvbn's score + 1 otherwise).
$config['password_minimum_score'] = 1;

// The login name as Roundcube knows it: the full address (with
// username_domain already applied). mailpassd matches it case-insensitively.
$config['password_username_format'] = '%u';
