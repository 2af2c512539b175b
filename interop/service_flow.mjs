#!/usr/bin/env node
// A ministry service against the IdP with panva's openid-client (v6) doing the protocol checks: discovery →
// client_credentials grant (its registered scopes, then a narrower one) → introspection of the token →
// a scope it is not registered for, which must fail with invalid_scope → revocation.
//
// Input: one JSON object, as the first argument or on stdin:
//   { "issuer", "client_id", "client_secret", "scope", "narrower_scope", "foreign_scope" }
// Output: one JSON object on stdout, { ok, steps: { <step>: outcome } } and, on failure, { failed_step, error };
// the exit status is 0 only when every step passed. Tokens themselves are never printed.

import * as client from 'openid-client';

async function readConfig() {
  if (process.argv[2]) return JSON.parse(process.argv[2]);
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function describeError(error) {
  if (!(error instanceof Error)) return { message: String(error) };
  const out = { name: error.name, message: error.message };
  for (const key of ['code', 'error', 'error_description', 'status']) {
    if (error[key] !== undefined) out[key] = error[key];
  }
  return out;
}

async function main() {
  const cfg = await readConfig();
  const steps = {};
  let step = 'discovery';
  try {
    const config = await client.discovery(
      new URL(cfg.issuer), cfg.client_id, undefined, client.ClientSecretBasic(cfg.client_secret),
      { execute: [client.allowInsecureRequests] },
    );
    steps.discovery = { grant_types_supported: config.serverMetadata().grant_types_supported };

    step = 'client_credentials';
    const all = await client.clientCredentialsGrant(config);
    steps.client_credentials = {
      token_type: all.token_type, scope: all.scope, expires_in: all.expires_in,
      has_refresh_token: all.refresh_token !== undefined, has_id_token: all.id_token !== undefined,
    };

    step = 'narrower_scope';
    const narrower = await client.clientCredentialsGrant(config, { scope: cfg.narrower_scope });
    steps.narrower_scope = { scope: narrower.scope };

    step = 'introspection';
    const introspected = await client.tokenIntrospection(config, all.access_token);
    const { jti, ...rest } = introspected;
    steps.introspection = { ...rest, has_jti: typeof jti === 'string' };

    step = 'foreign_scope';
    try {
      await client.clientCredentialsGrant(config, { scope: cfg.foreign_scope });
      steps.foreign_scope = { refused: false };
    } catch (error) {
      steps.foreign_scope = { refused: true, error: error.error, status: error.status };
    }

    step = 'revocation';
    await client.tokenRevocation(config, all.access_token);
    const after = await client.tokenIntrospection(config, all.access_token);
    steps.revocation = { active_after: after.active };
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ ok: false, failed_step: step, error: describeError(error), steps })}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ ok: true, steps })}\n`);
}

main();
