#!/usr/bin/env node
// A FranceConnect-like OpenID Provider built on panva's oidc-provider (an OP we did not write), for the
// interoperability tests of the IdP's federation client (tests/idp/federation/test_interop_oidc_provider.py).
//
// Configured the FranceConnect v2 way: authorization code flow only; ID tokens and userinfo answers signed ES256
// (userinfo as application/jwt: jwtUserinfo + the client's userinfo_signed_response_alg); pairwise subjects; the
// identité pivot as one scope per claim (given_name, family_name, birthdate, gender, birthplace, birthcountry);
// acr eidas1; RP-initiated logout with id_token_hint, state and a registered post_logout_redirect_uri; client
// authentication client_secret_post. The login screen is replaced by an interaction that signs in the one
// fictitious citizen of the configuration (the tests play the browser, not a person), and consent is given for
// what the client asked.
//
// Input: one JSON object as the first argument:
//   { "client": { "client_id", "client_secret", "redirect_uris": [...], "post_logout_redirect_uris": [...] },
//     "citizen": { "id", "given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry" },
//     "port"?: 0 }
// Output: one JSON line on stdout once listening on 127.0.0.1, { "ready": true, "issuer" }; then it serves until
// it is terminated. Nothing secret is printed.

import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

import { answerInteraction } from './lib/provider_interaction.mjs';

const PIVOT = ['given_name', 'family_name', 'birthdate', 'gender', 'birthplace', 'birthcountry'];
const ACR = 'eidas1';

function htmlSafe(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>${htmlSafe(title)}</title></head>`
    + `<body><main><h1>${htmlSafe(title)}</h1>${body}</main></body></html>`;
}

function readConfig() {
  if (!process.argv[2]) throw new Error('usage: oidc_provider_fc.mjs <JSON configuration>');
  const cfg = JSON.parse(process.argv[2]);
  for (const name of ['client', 'citizen']) {
    if (!cfg[name] || typeof cfg[name] !== 'object') throw new Error(`missing "${name}" in the configuration`);
  }
  return cfg;
}

function signingKey() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const kid = createHash('sha256').update(`${jwk.x}.${jwk.y}`).digest('base64url').slice(0, 16);
  return { ...jwk, kid, alg: 'ES256', use: 'sig' };
}

function configuration(cfg) {
  const { id: citizenId, ...identity } = cfg.citizen;
  const salt = randomBytes(16).toString('hex');
  return {
    clients: [{
      client_id: cfg.client.client_id,
      client_secret: cfg.client.client_secret,
      redirect_uris: cfg.client.redirect_uris,
      post_logout_redirect_uris: cfg.client.post_logout_redirect_uris ?? [],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      id_token_signed_response_alg: 'ES256',
      userinfo_signed_response_alg: 'ES256',
      subject_type: 'pairwise',
    }],
    clientAuthMethods: ['client_secret_post'],
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: ['openid', ...PIVOT],
    claims: Object.fromEntries([['openid', ['sub']], ...PIVOT.map((claim) => [claim, [claim]])]),
    acrValues: [ACR],
    subjectTypes: ['pairwise'],
    responseTypes: ['code'],
    enabledJWA: { idTokenSigningAlgValues: ['ES256'], userinfoSigningAlgValues: ['ES256'] },
    // FranceConnect's lifetimes: code 30 s, access token 60 s.
    ttl: { AuthorizationCode: 30, AccessToken: 60, IdToken: 60, Interaction: 600, Session: 600, Grant: 600 },
    // FranceConnect does not require PKCE; the IdP sends it anyway when the discovery announces it (this OP does).
    pkce: { required: () => false },
    features: {
      devInteractions: { enabled: false },
      jwtUserinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.body = page('Déconnexion', `${form}<p>Voulez-vous vous déconnecter ?</p>`
            + '<button type="submit" form="op.logoutForm" name="logout" value="yes">Se déconnecter</button>');
        },
        async postLogoutSuccessSource(ctx) {
          ctx.body = page('Vous êtes déconnecté(e)', '');
        },
      },
    },
    async pairwiseIdentifier(ctx, accountId, client) {
      return createHash('sha256').update(`${client.sectorIdentifier}\0${accountId}\0${salt}`).digest('hex');
    },
    async findAccount(ctx, id) {
      if (id !== citizenId) return undefined;
      return { accountId: id, async claims() { return { sub: id, ...identity }; } };
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Erreur', Object.entries(out).map(([k, v]) => `<p>${htmlSafe(k)} : ${htmlSafe(v)}</p>`).join(''));
    },
  };
}

async function main() {
  const cfg = readConfig();
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port ?? 0, '127.0.0.1', resolve);
  });
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration(cfg));
  const handle = provider.callback();
  server.on('request', (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      answerInteraction(provider, { accountId: cfg.citizen.id, acr: ACR, amr: ['pwd'] }, req, res).catch((error) => {
        res.statusCode = 500;
        res.end(`interaction failed: ${error.message}`);
      });
      return;
    }
    handle(req, res);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
  process.stdout.write(`${JSON.stringify({ ready: true, issuer })}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
