// Key Vault (RBAC authorisation, soft delete, purge protection) with the rollout flags at safe defaults.
param location string
param keyVaultName string
param tenantId string = subscription().tenantId
@secure()
param rabbitmqPassword string
@secure()
param brokerUrl string
@secure()
param managementUrl string
@secure()
param adminToken string
@secure()
param githubToken string
param tags object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    // checkov:skip=CKV_AZURE_109: Container Apps without VNet integration call Key Vault over its public endpoint; RBAC limits who can read
    // checkov:skip=CKV_AZURE_189: public network access stays enabled for the same reason
    // checkov:skip=CKV2_AZURE_32: private endpoints need a VNet-integrated environment, a planned later step
    tenantId: tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Rollout flags start safe: nothing on the queue path, no shadow.
var flags = {
  'QUEUE-TRAFFIC-PCT': '0'
  'ENABLE-QUEUE-SHADOW': 'false'
  'SHADOW-SAMPLE-PCT': '100'
  'ROLLOUT-STICKINESS': 'sticky'
  'ROLLOUT-LOCK': ''
}

resource flagSecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for flag in items(flags): {
  parent: vault
  name: flag.key
  properties: {
    // checkov:skip=CKV_AZURE_41: rollout flags are configuration, not credentials; they must not expire
    value: flag.value
    contentType: 'text/plain'
  }
}]

resource rabbitSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'RABBITMQ-PASSWORD'
  properties: {
    // checkov:skip=CKV_AZURE_41: rotated with the deployment parameter; an expiry would stop the broker unattended
    value: rabbitmqPassword
    contentType: 'text/plain'
  }
}

// Connection strings and tokens the apps read through Key Vault references (never app settings).
var connectionSecrets = {
  'BROKER-URL': brokerUrl
  'RABBITMQ-MANAGEMENT-URL': managementUrl
  'ADMIN-TOKEN': adminToken
  'GITHUB-TOKEN': githubToken
}

resource connections 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for secret in items(connectionSecrets): {
  parent: vault
  name: secret.key
  properties: {
    // checkov:skip=CKV_AZURE_41: rotated by redeploying with new values; an expiry would stop the apps unattended
    value: secret.value
    contentType: 'text/plain'
  }
}]

output vaultId string = vault.id
output vaultName string = vault.name
output vaultUri string = vault.properties.vaultUri
output rabbitSecretUri string = rabbitSecret.properties.secretUri
output brokerUrlSecretUri string = '${vault.properties.vaultUri}secrets/BROKER-URL'
output managementUrlSecretUri string = '${vault.properties.vaultUri}secrets/RABBITMQ-MANAGEMENT-URL'
output adminTokenSecretUri string = '${vault.properties.vaultUri}secrets/ADMIN-TOKEN'
output githubTokenSecretUri string = '${vault.properties.vaultUri}secrets/GITHUB-TOKEN'
