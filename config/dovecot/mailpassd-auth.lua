-- mailpassd-auth.lua: Dovecot Lua passdb + userdb that asks mailpassd.
--
-- One script for Dovecot 2.3 (dovecot-auth-lua, 2.3.19 verified) and 2.4
-- (2.4.1 verified). It is a thin HTTP client of mailpassd's auth listener:
--
--   auth_password_verify(req, password) -> POST {URL}/v1/passdb/verify
--   auth_userdb_lookup(req)             -> GET  {URL}/v1/userdb/<user>
--   auth_passdb_lookup(req)             -> never asks mailpassd (see below)
--
-- Settings come from the environment of the auth processes, which Dovecot
-- only passes on when listed in `import_environment` (see mailpassd.conf):
--
--   MAILPASSD_AUTH_URL          base URL of the auth listener, loopback TCP
--                               (default http://127.0.0.1:7411; Dovecot's
--                               HTTP client has no unix: socket support)
--   MAILPASSD_AUTH_SECRET       shared secret, sent as "Authorization: Bearer"
--   MAILPASSD_AUTH_SECRET_FILE  or: a file holding it (first line), readable
--                               by the auth worker user; keeps the secret out
--                               of `doveconf -n` output
--   MAILPASSD_AUTH_TIMEOUT_MS   whole-request timeout (default 6000; the daemon gives up
--                               after its own 5 s and answers 503 first)
--
-- Rule number one: only an answer from mailpassd can make a login fail as
-- "wrong password". Anything else - connection refused, timeout, 5xx, 401
-- (secret misconfigured), a body we cannot parse - is INTERNAL_FAILURE, which
-- Dovecot reports as a temporary failure (`code=temp_fail`, IMAP
-- "[UNAVAILABLE]") so clients retry instead of asking for a new password.

local json = require "cjson.safe"

local auth = dovecot.auth

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local base_url = string.gsub(env("MAILPASSD_AUTH_URL", "http://127.0.0.1:7411"), "/+$", "")
local timeout_ms = tonumber(env("MAILPASSD_AUTH_TIMEOUT_MS", "6000")) or 6000

local secret = env("MAILPASSD_AUTH_SECRET", nil)
local secret_file = env("MAILPASSD_AUTH_SECRET_FILE", nil)
local secret_error = nil
if secret == nil and secret_file ~= nil then
  local f, err = io.open(secret_file, "r")
  if f == nil then
    -- Not fatal at load time: every request then fails temporarily with this
    -- message in the log, which is easier to find than a dead auth process.
    secret_error = "cannot read MAILPASSD_AUTH_SECRET_FILE: " .. tostring(err)
  else
    secret = string.match(f:read("l") or "", "^%s*(.-)%s*$")
    f:close()
    if secret == "" then
      secret = nil
      secret_error = "MAILPASSD_AUTH_SECRET_FILE " .. secret_file .. " is empty"
    end
  end
end

-- The HTTP client is created on first use, once per auth (worker) process.
-- Setting names differ between versions and each version rejects or ignores
-- the other's:
--   2.3: http_client_settings field names, numbers in milliseconds; unknown
--        names are silently ignored (so passing 2.4 names there would leave
--        the 1 minute default timeout in place).
--   2.4: the http_client_* settings without that prefix, values as strings
--        with units; an unknown name is an error. So try 2.3 first, and when
--        that raises, use the 2.4 names.
-- One attempt only: a verify is not idempotent (it counts failures), and a
-- retry would only stretch the time a client waits for a temporary failure.
local client = nil
local function http_client()
  if client ~= nil then return client end
  local ok, c = pcall(dovecot.http.client, {
    request_timeout_msecs = timeout_ms,
    request_absolute_timeout_msecs = timeout_ms,
    connect_timeout_msecs = math.min(timeout_ms, 1000),
    max_attempts = 1,
    max_connect_attempts = 1,
    no_auto_retry = true,
    max_redirects = 0,
  })
  if not ok then
    c = dovecot.http.client({
      request_timeout = tostring(timeout_ms) .. "ms",
      request_absolute_timeout = tostring(timeout_ms) .. "ms",
      connect_timeout = tostring(math.min(timeout_ms, 1000)) .. "ms",
      request_max_attempts = "1",
      max_connect_attempts = "1",
      request_max_redirects = "0",
    })
  end
  client = c
  return client
end

-- Printable, single-line, bounded: for log lines and Dovecot error strings.
local function clean(s)
  s = string.gsub(tostring(s or ""), "[%c]", " ")
  if #s > 200 then s = string.sub(s, 1, 200) .. "..." end
  return s
end

-- One HTTP exchange. Returns status, body, reason. A status >= 9000 is
-- Dovecot's own code for "no HTTP answer" (connect failed, timeout,
-- connection lost; the reason says which); Lua errors (bad URL, client
-- creation failed) come back as status 0.
local function call(method, path, body)
  if secret_error ~= nil then return 0, nil, secret_error end
  local ok, status, payload, reason = pcall(function()
    local r = http_client():request({ url = base_url .. path, method = method })
    -- No keep-alive: a connection idling between logins can be closed by
    -- mailpassd at any moment, and with a single attempt the request that
    -- finds it closed would fail. A loopback connect costs far less than
    -- one argon2 verify.
    r:add_header("Connection", "close")
    if secret ~= nil then r:add_header("Authorization", "Bearer " .. secret) end
    if body ~= nil then
      r:add_header("Content-Type", "application/json")
      r:set_payload(body)
    end
    local resp = r:submit()
    return resp:status(), resp:payload(), resp:reason()
  end)
  if not ok then return 0, nil, tostring(status) end
  return status, payload, reason
end

-- Why a request got no usable answer, for the log line Dovecot writes
-- when a lookup returns INTERNAL_FAILURE (the returned string).
local function failure(status, reason)
  if status == 0 then return "mailpassd: request failed: " .. clean(reason) end
  if status >= 9000 then return "mailpassd unreachable at " .. base_url .. ": " .. clean(reason) end
  if status == 401 then return "mailpassd: 401, auth secret missing or wrong (MAILPASSD_AUTH_SECRET)" end
  return "mailpassd: HTTP " .. status .. " " .. clean(reason)
end

-- Request fields: 2.3 calls the protocol "service", 2.4 "protocol".
local function field(req, ...)
  for _, name in ipairs({ ... }) do
    local v = req[name]
    if type(v) == "string" and v ~= "" then return v end
  end
  return nil
end

-- Extra fields from mailpassd are handed to Dovecot as a Lua table, never as
-- a "k=v k=v" string: a table value is taken as-is, so spaces, tabs or "="
-- in a value (a reason text, a path) cannot split it into other fields.
-- Keys are restricted to what a Dovecot field name looks like, and
-- "password" is dropped (Dovecot would take it as the stored credential).
local function copy_fields(dst, src)
  if type(src) ~= "table" then return dst end
  for k, v in pairs(src) do
    if type(k) == "string" and string.match(k, "^[%w_%-%.]+$") and k ~= "password" then
      local t = type(v)
      if t == "string" then dst[k] = v
      elseif t == "number" then
        local i = math.tointeger(v)
        dst[k] = i and string.format("%d", i) or tostring(v)
      elseif t == "boolean" then dst[k] = v and "yes" or "no"
      end
    end
  end
  return dst
end

local function urlencode(s)
  return (string.gsub(s, "[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

function script_init()
  return 0
end

function script_deinit()
end

-- 2.4 only: without these the 2.4 auth cache never stores a Lua result
-- (2.3 takes cache_key= from the passdb args, see 2.3/mailpassd.conf). On
-- success Dovecot caches a hash of the password and checks later logins
-- against it - ONE password per entry. A mailbox with app passwords logs in
-- with several (a phone with its app password, a laptop with the main one),
-- and with the user alone as the key they refuse each other from the cache.
-- So the key is the user and the password's SHA-256 (never the plaintext);
-- the user stays first, so `doveadm auth cache flush <user>` (done by
-- mailpassd after every change) drops all of the user's entries.
function auth_passdb_get_cache_key()
  return "%{user}%{password | sha256 | hexlify}"
end

function auth_userdb_get_cache_key()
  return "%{user}"
end

function auth_password_verify(req, password)
  local body = json.encode({
    user = req.user,
    password = password,
    service = field(req, "service", "protocol"),
    remote_ip = field(req, "remote_ip"),
    -- The peer itself (a webmail host forwarding its user's address as remote_ip).
    real_remote_ip = field(req, "real_remote_ip", "real_rip"),
    local_ip = field(req, "local_ip"),
    session = field(req, "session"),
  })
  if body == nil then
    return auth.PASSDB_RESULT_INTERNAL_FAILURE, "mailpassd: cannot encode the request"
  end

  local status, payload, reason = call("POST", "/v1/passdb/verify", body)

  if status == 429 then
    -- Throttled: towards the client exactly like a wrong password, so the
    -- limit gives an attacker nothing to tell apart.
    return auth.PASSDB_RESULT_PASSWORD_MISMATCH, "throttled by mailpassd"
  end
  if status ~= 200 then
    -- Dovecot logs the returned string as the error.
    return auth.PASSDB_RESULT_INTERNAL_FAILURE, failure(status, reason)
  end

  local answer = json.decode(payload or "")
  if type(answer) ~= "table" then
    return auth.PASSDB_RESULT_INTERNAL_FAILURE, "mailpassd: unparseable answer"
  end

  local result = answer.result
  if result == "ok" then
    local fields = copy_fields({}, answer.extra)
    if type(answer.user) == "string" and answer.user ~= "" then
      fields.user = answer.user
    end
    return auth.PASSDB_RESULT_OK, fields
  elseif result == "password_mismatch" then
    return auth.PASSDB_RESULT_PASSWORD_MISMATCH, "password mismatch"
  elseif result == "user_unknown" then
    return auth.PASSDB_RESULT_USER_UNKNOWN, "unknown user"
  elseif result == "user_disabled" then
    -- For non-OK results Dovecot does not export fields; the string is the
    -- error text it logs.
    return auth.PASSDB_RESULT_USER_DISABLED, "disabled: " .. clean(answer.reason)
  elseif result == "pass_expired" then
    return auth.PASSDB_RESULT_PASS_EXPIRED, "password expired"
  elseif result == "throttled" then
    return auth.PASSDB_RESULT_PASSWORD_MISMATCH, "throttled"
  else
    -- "internal_failure" or anything this script does not know.
    return auth.PASSDB_RESULT_INTERNAL_FAILURE, "mailpassd: " .. clean(result)
  end
end

-- Called instead of auth_password_verify when Dovecot needs the stored
-- credential itself: non-plaintext SASL mechanisms (CRAM-MD5, DIGEST-MD5,
-- SCRAM-*), `doveadm auth lookup`. mailpassd never hands out hashes, so
-- this answers SCHEME_NOT_AVAILABLE - the very result Dovecot itself uses for
-- passdbs that cannot look up credentials (checkpassword, PAM). The login
-- fails as a normal authentication failure, and:
--   * not USER_UNKNOWN: the user may well exist; saying otherwise would be a
--     lie that `doveadm auth lookup` and the next passdb (if any) act on;
--   * not INTERNAL_FAILURE: nothing is temporarily wrong, and a client told
--     to retry would retry the same mechanism forever.
-- Keep `auth_mechanisms = plain login` (the default) so clients never pick
-- a mechanism this passdb cannot serve.
function auth_passdb_lookup(req)
  req:log_info("mailpassd: credential lookup requested (mechanism "
    .. clean(field(req, "mechanism", "mech")) .. "); mailpassd only verifies plaintext passwords")
  return auth.PASSDB_RESULT_SCHEME_NOT_AVAILABLE, "mailpassd: credential lookups are not supported"
end

function auth_userdb_lookup(req)
  local status, payload, reason = call("GET", "/v1/userdb/" .. urlencode(req.user or ""), nil)
  if status == 404 then
    return auth.USERDB_RESULT_USER_UNKNOWN, "unknown user"
  end
  if status ~= 200 then
    return auth.USERDB_RESULT_INTERNAL_FAILURE, failure(status, reason)
  end
  local answer = json.decode(payload or "")
  if type(answer) ~= "table" then
    return auth.USERDB_RESULT_INTERNAL_FAILURE, "mailpassd: unparseable userdb answer"
  end
  -- Every top-level string field is a userdb field (home, uid, gid, mail,
  -- quota_rule, ...); "user" renames the user to its canonical form.
  return auth.USERDB_RESULT_OK, copy_fields({}, answer)
end
