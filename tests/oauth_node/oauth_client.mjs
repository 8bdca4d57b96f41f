// doorman's OAuth endpoints driven by panva's openid-client, the most used OAuth client
// for Node, and its tokens checked by jose through the published JWKS, against a real
// `doorman serve`. Nothing here knows doorman's internals: discovery finds every endpoint.
//
//   node tests/oauth_node/oauth_client.mjs target/release/doorman
//
// The last line is "N passed, M failed"; the exit status is non-zero on any failure.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

import * as client from "openid-client";
import { createRemoteJWKSet, jwtVerify } from "jose";

// Ids and secrets with `-` and `_`, which openid-client form-encodes (`%2D`, `%5F`) as
// RFC 6749 §2.3.1 asks before they go into the Basic header.
const BASIC = { id: "report_s-bot", secret: "s3cr-et_0123456789-abc_DEF" };
const POST = { id: "post-bot_2", secret: "p0st_secret-0123456789_xyz" };

const binary = process.argv[2] ?? "target/release/doorman";

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startDoorman() {
  const dir = mkdtempSync(join(tmpdir(), "doorman-oauth-node-"));
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const config = join(dir, "doorman.toml");
  writeFileSync(
    config,
    `[server]
listen = "127.0.0.1:${port}"
public_url = "${issuer}"

[database]
url = "sqlite://${dir}/doorman.db?mode=rwc"

[keys]
dir = "${dir}/keys"

[[clients]]
id = "${BASIC.id}"
secret = "${BASIC.secret}"
scopes = ["reports.read", "reports.write"]

[[clients]]
id = "${POST.id}"
secret = "${POST.secret}"
scopes = ["reports.read"]
`,
  );
  const log = [];
  const child = spawn(binary, ["serve", "--config", config], {
    env: { ...process.env, RUST_LOG: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (d) => log.push(d.toString()));
  child.stderr.on("data", (d) => log.push(d.toString()));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`doorman exited (${child.exitCode}):\n${log.join("")}`);
    try {
      if ((await fetch(`${issuer}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`doorman did not become healthy in 30 s:\n${log.join("")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = async () => {
    child.kill("SIGTERM");
    const { code } = await exited;
    rmSync(dir, { recursive: true, force: true });
    if (code !== 0) throw new Error(`doorman did not stop cleanly (exit ${code}):\n${log.join("")}`);
  };
  return { issuer, stop };
}

/** openid-client's discovery (RFC 8414 metadata) for one client and one auth method. */
async function discover(issuer, { id, secret }, auth) {
  return client.discovery(new URL(issuer), id, secret, auth(secret), {
    algorithm: "oauth2",
    execute: [client.allowInsecureRequests], // plain http on loopback
  });
}

/** The token as a resource server checks it: jose, keys from the JWKS in the metadata. */
async function verified(config, token) {
  const metadata = config.serverMetadata();
  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer: metadata.issuer,
    audience: "doorman",
    typ: "at+jwt",
    algorithms: metadata.access_token_signing_alg_values_supported,
    requiredClaims: ["exp", "iat", "sub", "jti", "client_id"],
  });
  assert.ok(protectedHeader.kid, "the header names its key");
  return payload;
}

const tests = {
  async "discovery finds every endpoint from the issuer alone"({ issuer }) {
    const config = await discover(issuer, BASIC, client.ClientSecretBasic);
    const metadata = config.serverMetadata();
    assert.equal(metadata.issuer, issuer);
    for (const endpoint of ["token_endpoint", "introspection_endpoint", "revocation_endpoint", "jwks_uri"]) {
      assert.ok(metadata[endpoint]?.startsWith(issuer), `${endpoint}: ${metadata[endpoint]}`);
    }
    assert.ok(metadata.token_endpoint_auth_methods_supported.includes("client_secret_basic"));
    assert.ok(metadata.token_endpoint_auth_methods_supported.includes("client_secret_post"));
  },

  async "client_credentials with client_secret_basic (id and secret with - and _), verified by jose"({ issuer }) {
    const config = await discover(issuer, BASIC, client.ClientSecretBasic);
    const tokens = await client.clientCredentialsGrant(config, { scope: "reports.read" });
    assert.equal(tokens.token_type.toLowerCase(), "bearer");
    assert.equal(tokens.scope, "reports.read");
    assert.ok(tokens.expires_in > 0);
    const claims = await verified(config, tokens.access_token);
    assert.equal(claims.sub, BASIC.id);
    assert.equal(claims.client_id, BASIC.id);
    assert.equal(claims.scope, "reports.read");
  },

  async "client_credentials with client_secret_post"({ issuer }) {
    const config = await discover(issuer, POST, client.ClientSecretPost);
    const tokens = await client.clientCredentialsGrant(config);
    assert.equal(tokens.scope, "reports.read");
    assert.equal((await verified(config, tokens.access_token)).sub, POST.id);
  },

  async "a wrong secret is invalid_client"({ issuer }) {
    const config = await discover(issuer, { id: BASIC.id, secret: "not-the_secret" }, client.ClientSecretBasic);
    // openid-client reports the 401 as its WWW-Authenticate challenge (Basic) or as the
    // body's `invalid_client`, depending on what it reads first.
    await assert.rejects(client.clientCredentialsGrant(config), (e) => {
      assert.equal(e.status ?? e.response?.status, 401, String(e));
      if (e.error !== undefined) assert.equal(e.error, "invalid_client");
      return true;
    });
  },

  async "introspection, then revocation, then introspection again"({ issuer }) {
    const config = await discover(issuer, BASIC, client.ClientSecretBasic);
    const tokens = await client.clientCredentialsGrant(config, { scope: "reports.read reports.write" });
    const active = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(active.active, true);
    assert.equal(active.client_id, BASIC.id);
    assert.equal(active.scope, "reports.read reports.write");
    await client.tokenRevocation(config, tokens.access_token);
    const revoked = await client.tokenIntrospection(config, tokens.access_token);
    assert.deepEqual(revoked, { active: false });
    // Resource servers are clients too: another client may introspect an access token,
    // but its revocation of a token not its own is ignored (RFC 7009 answers 200 either way).
    const other = await discover(issuer, POST, client.ClientSecretPost);
    const fresh = await client.clientCredentialsGrant(config, { scope: "reports.read" });
    assert.equal((await client.tokenIntrospection(other, fresh.access_token)).sub, BASIC.id);
    await client.tokenRevocation(other, fresh.access_token);
    assert.equal((await client.tokenIntrospection(config, fresh.access_token)).active, true);
  },
};

let passed = 0;
let failed = 0;
const gateway = await startDoorman();
try {
  for (const [name, test] of Object.entries(tests)) {
    try {
      await test(gateway);
      passed += 1;
      console.log(`ok   ${name}`);
    } catch (e) {
      failed += 1;
      console.log(`FAIL ${name}\n     ${String(e?.stack ?? e).split("\n").join("\n     ")}`);
    }
  }
} finally {
  await gateway.stop();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
