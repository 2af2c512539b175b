#!/usr/bin/env node
// One relying party's complete journey against the IdP, with panva's certified openid-client (v6) doing every
// protocol check: discovery → authorization request (PKCE S256, state, nonce) → sign-in driven over HTTP →
// code exchange (ID token signature verified against the JWKS: enableNonRepudiationChecks) → userinfo →
// refresh → introspection → revocation → RP-initiated logout → prompt=none after logout.
//
// Input: one JSON object, as the first argument or on stdin:
//   { "issuer", "client_id", "client_secret"?, "auth_method": "client_secret_basic" | "client_secret_post" |
//     "none", "redirect_uri", "post_logout_redirect_uri", "scope", "expected_alg": "ES256" | "RS256",
//     "identifier", "password", "captcha" }
// Output: one JSON object on stdout, { ok, steps: { <step>: outcome }, http: [the client's requests] } and,
// on failure, { failed_step, error };
// the exit status is 0 only when every step passed. Tokens themselves are never printed.

import * as client from 'openid-client';

import { Browser, BrowserError, describePage, formsOf } from './lib/browser.mjs';
import { signIn } from './lib/signin.mjs';

class StepFailure extends Error {
  constructor(step, cause) {
    super(`${step}: ${cause?.message ?? cause}`);
    this.step = step;
    this.cause = cause;
  }
}

const SECRET_NAMES = new Set(['access_token', 'refresh_token', 'id_token', 'client_secret', 'code', 'token']);

/** Plain data of an error's ``cause`` (a response body, challenges), without tokens, keys or signed bytes. */
function sanitise(value) {
  return JSON.parse(JSON.stringify(value, (name, item) => {
    if (SECRET_NAMES.has(name)) return '[redacted]';
    if (item instanceof ArrayBuffer || ArrayBuffer.isView(item)) return '[binary]';
    if (typeof CryptoKey !== 'undefined' && item instanceof CryptoKey) return '[key]';
    return item;
  }) ?? 'null');
}

/** Everything useful an error of openid-client / oauth4webapi / the browser carries, as plain JSON. */
function describeError(error) {
  if (!(error instanceof Error)) return { message: String(error) };
  const out = { name: error.name, message: error.message };
  for (const key of ['code', 'error', 'error_description', 'status', 'details']) {
    if (error[key] !== undefined) out[key] = sanitise(error[key]);
  }
  if (error.cause !== undefined) {
    out.cause = error.cause instanceof Error ? describeError(error.cause) : sanitise(error.cause);
  }
  return out;
}

async function readConfig() {
  if (process.argv[2]) return JSON.parse(process.argv[2]);
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function clientAuthFor(cfg) {
  switch (cfg.auth_method) {
    case 'client_secret_basic':
      return client.ClientSecretBasic(cfg.client_secret);
    case 'client_secret_post':
      return client.ClientSecretPost(cfg.client_secret);
    case 'none':
      return client.None();
    default:
      throw new Error(`unsupported auth_method ${cfg.auth_method}`);
  }
}

function jwtHeader(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8'));
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** The OAuth error a call must fail with (`error` of the response body or WWW-Authenticate challenge). */
async function expectOAuthError(promise) {
  try {
    await promise;
  } catch (error) {
    if (error instanceof client.ResponseBodyError || error instanceof client.AuthorizationResponseError) {
      return { error: error.error, status: error.status };
    }
    if (error instanceof client.WWWAuthenticateChallengeError) {
      const challenge = error.cause?.[0];
      return { error: challenge?.parameters?.error, status: error.status, scheme: challenge?.scheme };
    }
    throw error;
  }
  throw new Error('the call succeeded where it should have failed');
}

/**
 * fetch for openid-client that notes, for each of its requests, the headers a client relies on (caching of
 * tokens, content types), so that the report shows them; bodies and credentials are not kept.
 */
function recordingFetch(log) {
  return async (url, options) => {
    const response = await fetch(url, options);
    log.push({
      request: `${options?.method ?? 'GET'} ${new URL(url).pathname}`,
      status: response.status,
      cache_control: response.headers.get('cache-control'),
      pragma: response.headers.get('pragma'),
      content_type: response.headers.get('content-type'),
    });
    return response;
  };
}

async function run(cfg, steps, http) {
  const step = async (name, fn) => {
    try {
      steps[name] = await fn();
    } catch (error) {
      throw new StepFailure(name, error);
    }
    return steps[name];
  };
  const confidential = cfg.auth_method !== 'none';
  const browser = new Browser();
  const credentials = { identifier: cfg.identifier, password: cfg.password, captcha: cfg.captcha };

  let config;
  await step('discovery', async () => {
    const metadata = { id_token_signed_response_alg: cfg.expected_alg };
    if (confidential) metadata.client_secret = cfg.client_secret;
    config = await client.discovery(new URL(cfg.issuer), cfg.client_id, metadata, clientAuthFor(cfg), {
      execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
      [client.customFetch]: recordingFetch(http),
    });
    const server = config.serverMetadata();
    return {
      issuer: server.issuer,
      supports_pkce_s256: server.supportsPKCE('S256'),
      code_challenge_methods_supported: server.code_challenge_methods_supported,
      id_token_signing_alg_values_supported: server.id_token_signing_alg_values_supported,
      token_endpoint_auth_methods_supported: server.token_endpoint_auth_methods_supported,
      end_session_endpoint: server.end_session_endpoint,
    };
  });

  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  let authorizationUrl;
  await step('authorization_request', async () => {
    const challenge = await client.calculatePKCECodeChallenge(verifier);
    authorizationUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: cfg.redirect_uri,
      scope: cfg.scope,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { endpoint: authorizationUrl.origin + authorizationUrl.pathname,
      parameters: [...authorizationUrl.searchParams.keys()].sort() };
  });

  let callback;
  await step('sign_in', async () => {
    const result = await signIn(browser, authorizationUrl.href, cfg.redirect_uri, credentials);
    callback = result.callback;
    return { screens: result.screens, callback_parameters: [...callback.searchParams.keys()].sort(),
      iss_in_response: callback.searchParams.get('iss') };
  });

  let tokens;
  let claims;
  await step('code_exchange', async () => {
    tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    claims = tokens.claims();
    assert(claims, 'no ID token');
    return {
      token_type: tokens.token_type,
      expires_in: tokens.expires_in,
      scope: tokens.scope,
      has_refresh_token: typeof tokens.refresh_token === 'string',
      id_token_header: jwtHeader(tokens.id_token),
      id_token_claims: claims,
    };
  });

  await step('userinfo', async () => {
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    return { claims: userinfo };
  });

  let refreshed;
  await step('refresh', async () => {
    refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    const newClaims = refreshed.claims();
    return {
      new_access_token: refreshed.access_token !== tokens.access_token,
      new_refresh_token: typeof refreshed.refresh_token === 'string'
        && refreshed.refresh_token !== tokens.refresh_token,
      id_token_header: refreshed.id_token ? jwtHeader(refreshed.id_token) : null,
      id_token_claims: newClaims ?? null,
      scope: refreshed.scope,
    };
  });

  await step('introspection', async () => {
    if (!confidential) {
      // A public client cannot authenticate, so it may not introspect (RFC 7662 2.1): the refusal is checked.
      return { refused: await expectOAuthError(client.tokenIntrospection(config, refreshed.access_token)) };
    }
    const access = await client.tokenIntrospection(config, refreshed.access_token);
    const refresh = await client.tokenIntrospection(config, refreshed.refresh_token,
      { token_type_hint: 'refresh_token' });
    const rotatedOut = await client.tokenIntrospection(config, tokens.refresh_token,
      { token_type_hint: 'refresh_token' });
    return { access_token: access, refresh_token: refresh, old_refresh_token: rotatedOut };
  });

  await step('revocation', async () => {
    await client.tokenRevocation(config, refreshed.access_token, { token_type_hint: 'access_token' });
    const userinfoAfter = client.fetchUserInfo(config, refreshed.access_token, claims.sub);
    const outcome = { userinfo_after: await expectOAuthError(userinfoAfter) };
    if (confidential) {
      outcome.access_token_after = await client.tokenIntrospection(config, refreshed.access_token);
    }
    await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' });
    if (confidential) {
      outcome.refresh_token_after = await client.tokenIntrospection(config, refreshed.refresh_token,
        { token_type_hint: 'refresh_token' });
    }
    outcome.refresh_after = await expectOAuthError(client.refreshTokenGrant(config, refreshed.refresh_token));
    return outcome;
  });

  const logoutState = client.randomState();
  await step('end_session', async () => {
    const url = client.buildEndSessionUrl(config, {
      id_token_hint: refreshed.id_token ?? tokens.id_token,
      post_logout_redirect_uri: cfg.post_logout_redirect_uri,
      state: logoutState,
    });
    let page = await browser.go('GET', url.href, undefined, cfg.post_logout_redirect_uri);
    let confirmationShown = false;
    const isConfirmation = (form) => new URL(form.action).pathname.endsWith('/logout/end/confirm');
    if (!page.arrived && formsOf(page.html, page.url).some(isConfirmation)) {
      confirmationShown = true;
      page = await browser.submit(page, isConfirmation, {}, cfg.post_logout_redirect_uri);
    }
    if (!page.arrived) {
      const where = `${page.status} on ${new URL(page.url).pathname}`;
      throw new BrowserError(`no redirect to post_logout_redirect_uri (${where})`, describePage(page.html));
    }
    return {
      parameters: [...url.searchParams.keys()].sort(),
      confirmation_shown: confirmationShown,
      returned_to: page.arrived.origin + page.arrived.pathname,
      state_returned: page.arrived.searchParams.get('state'),
      state_matches: page.arrived.searchParams.get('state') === logoutState,
    };
  });

  await step('after_logout', async () => {
    // The IdP session is over: a silent authorization request must answer login_required (OIDC Core 3.1.2.6),
    // with state and iss checked by the library.
    const silentVerifier = client.randomPKCECodeVerifier();
    const silentState = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: cfg.redirect_uri,
      scope: cfg.scope,
      code_challenge: await client.calculatePKCECodeChallenge(silentVerifier),
      code_challenge_method: 'S256',
      state: silentState,
      nonce: client.randomNonce(),
      prompt: 'none',
    });
    const page = await browser.go('GET', url.href, undefined, cfg.redirect_uri);
    if (!page.arrived) {
      throw new BrowserError(`prompt=none did not return to the client (${page.status})`,
        describePage(page.html));
    }
    const refusal = await expectOAuthError(client.authorizationCodeGrant(config, page.arrived, {
      pkceCodeVerifier: silentVerifier,
      expectedState: silentState,
    }));
    return { prompt_none: refusal };
  });
}

async function main() {
  const steps = {};
  const http = [];
  let cfg;
  try {
    cfg = await readConfig();
  } catch (error) {
    const report = { ok: false, failed_step: 'config', error: describeError(error) };
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exitCode = 2;
    return;
  }
  try {
    await run(cfg, steps, http);
    process.stdout.write(`${JSON.stringify({ ok: true, steps, http })}\n`);
  } catch (error) {
    const failed = error instanceof StepFailure ? error.step : 'unknown';
    const cause = error instanceof StepFailure ? error.cause : error;
    const report = { ok: false, failed_step: failed, error: describeError(cause), steps, http };
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.stderr.write(`interop: step ${failed} failed: ${cause?.message ?? cause}\n`);
    process.exitCode = 1;
  }
}

await main();
