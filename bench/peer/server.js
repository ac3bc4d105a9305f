// node-oidc-provider peer for usercenter's benchmark (bench/run.sh --peers).
// Default in-memory adapter, one confidential client, NODE_ENV=production.
// Scenarios served: (b) client_credentials -> opaque access token,
// (c) client_credentials with resource=urn:bench:jwt -> RS256 JWT access token,
// (d) token introspection of an opaque token.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

// Production behaviour even when started without NODE_ENV (Koa reads it when the
// Provider is constructed below, after the imports above have been evaluated).
process.env.NODE_ENV = 'production';

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number.parseInt(process.env.PORT || '3100', 10);
const ISSUER = `http://${HOST}:${PORT}`;
const JWT_RESOURCE = 'urn:bench:jwt';

// Fresh RS256 signing key on every start; published at /jwks.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = {
  ...privateKey.export({ format: 'jwk' }),
  kid: 'bench-rs256',
  alg: 'RS256',
  use: 'sig',
};

const configuration = {
  clients: [
    {
      client_id: 'bench',
      client_secret: 'bench-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'api',
    },
  ],
  scopes: ['openid', 'api'],
  jwks: { keys: [signingJwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // Any authenticated confidential client may introspect (the default policy).
      allowedPolicy: async (ctx, client) => client.clientAuthMethod !== 'none',
    },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // No resource parameter -> no resource server -> opaque access token.
      defaultResource: async (ctx, client, oneOf) => oneOf || undefined,
      useGrantedResource: async () => false,
      getResourceServerInfo: async (ctx, resourceIndicator) => {
        if (resourceIndicator === JWT_RESOURCE) {
          return {
            scope: 'api',
            audience: JWT_RESOURCE,
            accessTokenTTL: 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        }
        throw new errors.InvalidTarget();
      },
    },
  },
  ttl: {
    AccessToken: 3600,
    ClientCredentials: 600,
  },
};

const provider = new Provider(ISSUER, configuration);
provider.proxy = false;
if (provider.env !== 'production') throw new Error(`expected production env, got ${provider.env}`);

provider.on('server_error', (ctx, err) => {
  console.error('server_error', err);
});

const server = provider.listen(PORT, HOST, () => {
  console.log(`oidc-provider peer listening on ${ISSUER} (pid ${process.pid})`);
});

function shutdown() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
