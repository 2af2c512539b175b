// A node-oidc-provider storage adapter on Redis (ioredis, pinned in interop/package-lock.json), so that
// benchmarks/oidc_throughput.py can compare our IdP (PostgreSQL + Redis) with node-oidc-provider on a durable store
// too, not only with its in-memory map.
//
// The adapter contract is node-oidc-provider's (upsert, find, findByUid, findByUserCode, consume, destroy,
// revokeByGrantId). Every model instance is one Redis key `<model>:<id>` with its expiry; what can be consumed
// (authorization codes, refresh tokens…) is a hash whose `consumed` field is set at use, in the same key; every
// key obtained from one grant is listed under `grant:<grantId>` so that revoking the grant deletes them all. All
// keys live under the prefix given (the benchmark deletes them afterwards). One round trip per call where the
// contract allows it (MULTI for the writes that go together).

import { createRequire } from 'node:module';
import { join } from 'node:path';

/** Models whose instances are consumed once (kept as a hash: the payload, and `consumed` when used). */
const CONSUMABLE = new Set([
  'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PushedAuthorizationRequest',
]);

/** ioredis from the interop packages (the directory that holds oidc-provider). */
export function loadRedis(nodeModules) {
  return createRequire(join(nodeModules, 'noop.js'))('ioredis');
}

/** An adapter class bound to one Redis connection, keys under `prefix`. */
export function redisAdapter(Redis, url, prefix) {
  const client = new Redis(url, { keyPrefix: prefix, maxRetriesPerRequest: 2, enableAutoPipelining: true });

  class RedisAdapter {
    constructor(model) {
      this.model = model;
      this.consumable = CONSUMABLE.has(model);
    }

    key(id) { return `${this.model}:${id}`; }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      const multi = client.multi();
      if (this.consumable) {
        multi.del(key);
        multi.hset(key, 'payload', JSON.stringify(payload));
      } else {
        multi.set(key, JSON.stringify(payload));
      }
      if (expiresIn) multi.expire(key, expiresIn);
      if (payload.grantId) {
        const grantKey = `grant:${payload.grantId}`;
        multi.rpush(grantKey, key);
        // The list lives as long as its longest member (EXPIRE ... GT keeps a later expiry; Redis 7).
        if (expiresIn) {
          multi.expire(grantKey, expiresIn, 'NX');
          multi.expire(grantKey, expiresIn, 'GT');
        }
      }
      if (payload.userCode) multi.set(`userCode:${payload.userCode}`, id, 'EX', expiresIn);
      if (payload.uid) multi.set(`uid:${payload.uid}`, id, 'EX', expiresIn);
      await multi.exec();
    }

    async find(id) {
      const key = this.key(id);
      if (!this.consumable) {
        const raw = await client.get(key);
        return raw ? JSON.parse(raw) : undefined;
      }
      const fields = await client.hgetall(key);
      if (!fields || !fields.payload) return undefined;
      const payload = JSON.parse(fields.payload);
      if (fields.consumed) payload.consumed = Number(fields.consumed);
      return payload;
    }

    async findByUid(uid) {
      const id = await client.get(`uid:${uid}`);
      return id ? this.find(id) : undefined;
    }

    async findByUserCode(userCode) {
      const id = await client.get(`userCode:${userCode}`);
      return id ? this.find(id) : undefined;
    }

    async consume(id) {
      await client.hset(this.key(id), 'consumed', Math.floor(Date.now() / 1000));
    }

    async destroy(id) {
      await client.del(this.key(id));
    }

    async revokeByGrantId(grantId) {
      const grantKey = `grant:${grantId}`;
      const members = await client.lrange(grantKey, 0, -1);
      const multi = client.multi();
      for (const member of members) multi.del(member);
      multi.del(grantKey);
      await multi.exec();
    }
  }

  RedisAdapter.close = () => client.quit();
  return RedisAdapter;
}
