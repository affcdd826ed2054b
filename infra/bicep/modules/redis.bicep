// Azure Cache for Redis for the GitHub request budget shared by every worker replica
// (services/queue/github_budget.py). TLS only (port 6380), TLS 1.2; its connection URL is written to
// Key Vault as REDIS-URL, which the apps read through a Key Vault reference (never an app setting).
// The budget holds seconds-lived permits and one quota reading per token: nothing to persist or back up.
param location string
param namePrefix string
param keyVaultName string
@allowed([
  'Basic'
  'Standard'
])
@description('Basic for dev; Standard (replicated) for prod: workers fall back to per-process permits while Redis is down.')
param skuName string = 'Basic'
param tags object

resource redis 'Microsoft.Cache/redis@2024-03-01' = {
  name: '${namePrefix}-redis'
  location: location
  tags: tags
  properties: {
    // checkov:skip=CKV_AZURE_89: Container Apps without VNet integration reach Redis over its public endpoint; TLS and the access key protect it
    // checkov:skip=CKV_AZURE_91: Redis must not run with the non-TLS port; enableNonSslPort is false (checkov misreads the property)
    sku: {
      name: skuName
      family: 'C'
      capacity: 0
    }
    enableNonSslPort: false
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    redisConfiguration: {
      'maxmemory-policy': 'volatile-lru'
    }
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource redisUrl 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'REDIS-URL'
  properties: {
    // checkov:skip=CKV_AZURE_41: rotated with the access key by redeploying; an expiry would stop the shared budget unattended
    value: 'rediss://:${redis.listKeys().primaryKey}@${redis.properties.hostName}:${redis.properties.sslPort}/0'
    contentType: 'text/plain'
  }
}

output redisName string = redis.name
output redisUrlSecretUri string = '${vault.properties.vaultUri}secrets/REDIS-URL'
