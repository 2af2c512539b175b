#!/usr/bin/env node
// panva's oidc-provider set up as the reference of benchmarks/oidc_throughput.py: one process, an in-memory store
// (or Redis through redis_adapter.mjs when the configuration names one), one confidential client, and an account that is always "signed in" (no screens to time: the benchmark loads the
// protocol endpoints, and reaches the code flow only to mint refresh tokens before the timed phase).
//
// Configured like the IdP where it matters for the figures: ID tokens ES256 (JWKS holds an ES256 and an RS256 key,
// as the IdP's does), opaque access and refresh tokens, refresh tokens rotated on every use (the IdP rotates them
// too), introspection and userinfo enabled, client_secret_basic. client_credentials is enabled (measured beside the
// IdP's own, which is a separate service client there).
//
// oidc-provider comes from ../../interop/node_modules (`npm ci --prefix interop`); whatever version is installed
// there is used and reported.
//
// Input: one JSON object as the first argument:
//   { "client": { "client_id", "client_secret", "redirect_uri" }, "account": { "id", "given_name", "family_name",
//     "email" }, "port"?: 0, "redis"?: { "url", "prefix" } }
// Output: one JSON line on stdout once listening on 127.0.0.1: { "ready": true, "issuer", "version" }; then it
// serves until SIGTERM. Nothing secret is printed.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { answerInteraction } from '../../interop/lib/provider_interaction.mjs';

const INTEROP = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'interop', 'node_modules');
const PACKAGE_DIR = join(INTEROP, 'oidc-provider');
const { default: Provider } = await import(join(PACKAGE_DIR, 'lib', 'index.js'));
const { loadRedis, redisAdapter } = await import('./redis_adapter.mjs');
const VERSION = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')).version;

/** Everything in one Map, with expiry; no size bound (the default adapter is an LRU of 1,000 entries, which a
 * rotating refresh chain under load would outgrow, evicting grants mid-run). Expired entries are swept. */
const storage = new Map();
const now = () => Math.floor(Date.now() / 1000);

function live(key) {
  const entry = storage.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt && entry.expiresAt <= now()) {
    storage.delete(key);
    return undefined;
  }
  return entry.value;
}

function put(key, value, expiresIn) {
  storage.set(key, { value, expiresAt: expiresIn ? now() + expiresIn : undefined });
}

setInterval(() => {
  const t = now();
  for (const [key, entry] of storage) if (entry.expiresAt && entry.expiresAt <= t) storage.delete(key);
}, 10_000).unref();

class MapAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    if (this.model === 'Session') put(`sessionUid:${payload.uid}`, id, expiresIn);
    if (payload.grantId) {
      const grantKey = `grant:${payload.grantId}`;
      const members = live(grantKey);
      if (members) members.push(key); else put(grantKey, [key], expiresIn);
    }
    if (payload.userCode) put(`userCode:${payload.userCode}`, id, expiresIn);
    put(key, payload, expiresIn);
  }

  async find(id) { return live(this.key(id)); }

  async findByUid(uid) { const id = live(`sessionUid:${uid}`); return id && this.find(id); }

  async findByUserCode(code) { const id = live(`userCode:${code}`); return id && this.find(id); }

  async consume(id) { const payload = live(this.key(id)); if (payload) payload.consumed = now(); }

  async destroy(id) { storage.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    const grantKey = `grant:${grantId}`;
    for (const key of live(grantKey) ?? []) storage.delete(key);
    storage.delete(grantKey);
  }
}

function signingKeys() {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  return [
    { ...ec, kid: 'bench-es256', alg: 'ES256', use: 'sig' },
    { ...rsa, kid: 'bench-rs256', alg: 'RS256', use: 'sig' },
  ];
}

function configuration(cfg, adapter) {
  const { id: accountId, ...claims } = cfg.account;
  return {
    adapter,
    clients: [{
      client_id: cfg.client.client_id,
      client_secret: cfg.client.client_secret,
      redirect_uris: [cfg.client.redirect_uri],
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    }],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    jwks: { keys: signingKeys() },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    claims: { openid: ['sub'], profile: ['given_name', 'family_name'], email: ['email'] },
    responseTypes: ['code'],
    enabledJWA: { idTokenSigningAlgValues: ['ES256', 'RS256'] },
    // The IdP's lifetimes (IDP_ACCESS_TOKEN_TTL, IDP_REFRESH_TOKEN_TTL, IDP_ID_TOKEN_TTL).
    ttl: { AccessToken: 600, AuthorizationCode: 50, ClientCredentials: 600, IdToken: 600, RefreshToken: 28800,
      Grant: 28800, Session: 28800, Interaction: 3600 },
    // A refresh token for every code of a client allowed the grant (as the IdP does), without offline_access.
    async issueRefreshToken(ctx, client) { return client.grantTypeAllowed('refresh_token'); },
    rotateRefreshToken: true,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
    },
    async findAccount(ctx, id) {
      if (id !== accountId) return undefined;
      return { accountId: id, async claims() { return { sub: id, ...claims }; } };
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  };
}

async function main() {
  if (!process.argv[2]) throw new Error('usage: oidc_provider_bench.mjs <JSON configuration>');
  const cfg = JSON.parse(process.argv[2]);
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port ?? 0, '127.0.0.1', resolve);
  });
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const adapter = cfg.redis ? redisAdapter(loadRedis(INTEROP), cfg.redis.url, cfg.redis.prefix) : MapAdapter;
  const provider = new Provider(issuer, configuration(cfg, adapter));
  const handle = provider.callback();
  server.keepAliveTimeout = 30_000;
  server.on('request', (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      answerInteraction(provider, { accountId: cfg.account.id, amr: ['pwd'] }, req, res).catch((error) => {
        res.statusCode = 500;
        res.end(`interaction failed: ${error.message}`);
      });
      return;
    }
    handle(req, res);
  });
  const stop = () => {
    server.close(() => (adapter.close ? adapter.close() : Promise.resolve()).finally(() => process.exit(0)));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`${JSON.stringify({ ready: true, issuer, version: VERSION })}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
