<?php

/**
 * mailpassd driver for Roundcube's password plugin (Roundcube 1.5 and 1.6;
 * verified with Debian 12's roundcube-plugins 1.6.5).
 *
 * Install: copy this file to <roundcube>/plugins/password/drivers/mailpassd.php
 * (Debian: /usr/share/roundcube/plugins/password/drivers/) and use
 * config/roundcube/password.inc.php from mailpassd as the plugin's config.
 *
 * One class, two roles:
 * - password driver (`password_driver = 'mailpassd'`): save() posts the change to
 *   mailpassd's POST /v1/self-service/change and turns a refusal into the
 *   plugin's richer answers, so the user reads the rule that failed, in their
 *   Roundcube language where mailpassd has it (English, Dutch);
 * - strength driver (`password_strength_driver = 'mailpassd'`): strength_rules()
 *   lists mailpassd's rules for the mailbox's domain on the password page
 *   (POST /v1/self-service/policy), check_strength() refuses a password that
 *   breaks them before anything is sent (POST /v1/self-service/policy-check,
 *   which mailpassd never stores nor logs). The same policy code decides both.
 *
 * Settings (in the plugin's config.inc.php or Roundcube's main config):
 *   password_mailpassd_url    mailpassd's admin listener, default http://127.0.0.1:7412
 *   password_mailpassd_secret mailpassd's self_service.secret (required)
 *   password_http_client      Guzzle options (e.g. 'verify' for a private CA)
 *
 * Fails closed: if mailpassd cannot be reached or refuses the secret, nothing is
 * changed and the user reads that the password service is unavailable.
 * Passwords are sent only in request bodies, never logged by this driver.
 */
class rcube_mailpassd_password
{
    /** The driver's own texts, for what the plugin has no label for. */
    private static $texts = [
        'en' => [
            'unavailable'  => 'The password service is unavailable; your password was not changed. Please try again later.',
            'throttled'    => 'Too many attempts; please try again later.',
            'changed'      => 'Your mailbox was changed in the meantime; nothing was changed. Please sign in again.',
            'wrongcurrent' => 'The current password is not correct.',
            'norules'      => 'The password rules could not be loaded.',
        ],
        'nl' => [
            'unavailable'  => 'De wachtwoorddienst is niet bereikbaar; uw wachtwoord is niet gewijzigd. Probeer het later opnieuw.',
            'throttled'    => 'Te veel pogingen; probeer het later opnieuw.',
            'changed'      => 'Uw mailbox is intussen gewijzigd; er is niets veranderd. Meld u opnieuw aan.',
            'wrongcurrent' => 'Het huidige wachtwoord is niet juist.',
            'norules'      => 'De wachtwoordregels konden niet worden geladen.',
        ],
    ];

    /**
     * @return int|array PASSWORD_SUCCESS, or a code with the message the user reads
     */
    function save($curpass, $newpass, $username)
    {
        $answer = $this->call('/v1/self-service/change', [
            'user'    => $username,
            'curpass' => $curpass,
            'newpass' => $newpass,
        ]);

        if ($answer === null) {
            return ['code' => PASSWORD_CONNECT_ERROR, 'message' => $this->text('unavailable')];
        }

        $body = $answer['body'];
        if ($answer['status'] == 200 && isset($body['result']) && $body['result'] === 'ok') {
            return PASSWORD_SUCCESS;
        }

        $code = isset($body['code']) ? $body['code'] : '';
        switch ($code) {
            case 'policy_refused':
                $violations = isset($body['violations']) && is_array($body['violations']) ? $body['violations'] : [];
                $codes = array_unique(array_column($violations, 'code'));
                $message = implode(' ', array_column($violations, 'message'));
                // Roundcube 1.6.5 has no text for PASSWORD_IN_HISTORY (it would show
                // "[passwdinhistory]"); use it only where the plugin can say it.
                if ($codes == ['reused'] && rcmail::get_instance()->text_exists('passwdinhistory', 'password')) {
                    return ['code' => PASSWORD_IN_HISTORY, 'message' => $message];
                }
                // PASSWORD_CONSTRAINT_VIOLATION would prefix "Password probably too weak",
                // wrong for most rules: the rules themselves say what failed.
                return ['code' => PASSWORD_ERROR, 'message' => $message];
            case 'wrong_current_password':
                return ['code' => PASSWORD_ERROR, 'message' => $this->text('wrongcurrent')];
            case 'throttled':
                return ['code' => PASSWORD_ERROR, 'message' => $this->text('throttled')];
            case 'credential_changed':
                return ['code' => PASSWORD_ERROR, 'message' => $this->text('changed')];
        }

        if ($answer['status'] == 422 && !empty($body['detail'])) {
            // The password input check (empty, control characters, too long): its own sentence.
            return ['code' => PASSWORD_ERROR, 'message' => $body['detail']];
        }

        // 401 (wrong secret), 404 (driver routes off: no self_service.secret), 5xx:
        // the operator's to fix; the user only learns that nothing changed.
        $this->log_failure('/v1/self-service/change', $answer);

        return ['code' => PASSWORD_CONNECT_ERROR, 'message' => $this->text('unavailable')];
    }

    /**
     * mailpassd's rules for this mailbox's domain, listed on the password page.
     *
     * @return array Texts, one per rule
     */
    function strength_rules()
    {
        $answer = $this->call('/v1/self-service/policy', ['user' => password::username()]);

        if ($answer === null || $answer['status'] != 200 || !isset($answer['body']['rules']) || !is_array($answer['body']['rules'])) {
            if ($answer !== null) {
                $this->log_failure('/v1/self-service/policy', $answer);
            }
            return [$this->text('norules')];
        }

        return array_values(array_map(function ($rule) { return rcube::Q($rule['text']); }, $answer['body']['rules']));
    }

    /**
     * The policy's verdict before the change is sent. Reuse is left to save(),
     * which names it; anything but a clear answer also leaves the decision to
     * save(), where mailpassd enforces the same rules (and fails closed).
     *
     * @return array [score 0 (refused) or zxcvbn's score + 1, reason]
     */
    function check_strength($passwd)
    {
        $answer = $this->call('/v1/self-service/policy-check', [
            'user'     => password::username(),
            'password' => $passwd,
        ]);

        if ($answer === null || $answer['status'] != 200 || !isset($answer['body']['violations'])) {
            if ($answer !== null) {
                $this->log_failure('/v1/self-service/policy-check', $answer);
            }
            return [5, null];
        }

        $failed = array_filter($answer['body']['violations'], function ($v) { return $v['code'] !== 'reused'; });
        if (!empty($failed)) {
            // The plugin shows the reason as HTML, unescaped (its save path escapes).
            return [0, rcube::Q(implode(' ', array_column($failed, 'message')), 'strict', false)];
        }

        return [(int) $answer['body']['score'] + 1, null];
    }

    /**
     * One JSON POST to mailpassd with the shared secret, the user's language and
     * address. Null when mailpassd cannot be reached; otherwise status and body.
     */
    private function call($route, $fields)
    {
        $rcmail = rcmail::get_instance();
        $url    = rtrim((string) $rcmail->config->get('password_mailpassd_url', 'http://127.0.0.1:7412'), '/') . $route;
        $secret = (string) $rcmail->config->get('password_mailpassd_secret');

        $fields['lang'] = $this->language();

        $options = [
            'json'        => $fields,
            'headers'     => [
                'Authorization'   => 'Bearer ' . $secret,
                'Accept'          => 'application/json',
                'X-Forwarded-For' => $this->client_ip(),
            ],
            // Every answer is read here: a 4xx names what failed.
            'http_errors' => false,
        ];
        $client_conf = (array) $rcmail->config->get('password_http_client');
        if (!isset($client_conf['timeout'])) {
            // Room for mailpassd to confirm a change on the mail nodes (it waits up to 2 s).
            $options['timeout'] = 10;
        }
        if (!isset($client_conf['connect_timeout'])) {
            $options['connect_timeout'] = 5;
        }

        try {
            $response = password::get_http_client()->request('POST', $url, $options);
        }
        catch (\Throwable $e) {
            // Guzzle's message names the URL and the cause, never the request body.
            rcube::raise_error([
                    'code' => 600, 'file' => __FILE__, 'line' => __LINE__,
                    'message' => "Password plugin (mailpassd): cannot reach $url: " . $e->getMessage(),
                ], true, false
            );
            return null;
        }

        $body = json_decode((string) $response->getBody(), true);

        return ['status' => $response->getStatusCode(), 'body' => is_array($body) ? $body : []];
    }

    private function log_failure($route, $answer)
    {
        $body = $answer['body'];
        rcube::raise_error([
                'code' => 600, 'file' => __FILE__, 'line' => __LINE__,
                'message' => sprintf('Password plugin (mailpassd): %s answered %d %s: %s', $route, $answer['status'],
                    isset($body['code']) ? $body['code'] : '-', isset($body['detail']) ? $body['detail'] : ''),
            ], true, false
        );
    }

    /** The user's Roundcube language (nl_NL, en_US, …); mailpassd answers in nl or en. */
    private function language()
    {
        if (!empty($_SESSION['language'])) {
            return $_SESSION['language'];
        }

        $rcmail = rcmail::get_instance();

        return method_exists($rcmail, 'get_user_language') ? $rcmail->get_user_language() : (string) $rcmail->config->get('language', 'en_US');
    }

    /** The end user's address as Roundcube sees it (behind its own proxies: `proxy_whitelist`). */
    private function client_ip()
    {
        return method_exists('rcube_utils', 'remote_addr') ? rcube_utils::remote_addr() : rcube_utils::remote_ip();
    }

    private function text($name)
    {
        $lang = strtolower(substr($this->language(), 0, 2)) === 'nl' ? 'nl' : 'en';

        return self::$texts[$lang][$name];
    }
}
