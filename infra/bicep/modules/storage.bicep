// Storage account for the cache (blob container) and RabbitMQ's persistent volume (file share).
param location string
@minLength(3)
@maxLength(24)
@description('3-24 lowercase letters and digits, globally unique.')
param storageAccountName string
param cacheContainerName string = 'cloudfolio-cache'
param rabbitShareName string = 'rabbitmq-data'
param tags object

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_GRS'
  }
  properties: {
    // checkov:skip=CKV_AZURE_43: the name is a deployment parameter (3-24 characters by its decorators); checkov cannot evaluate it statically
    // checkov:skip=CKV_AZURE_33: queue service logging does not apply, no storage queues are used (RabbitMQ is the broker)
    // checkov:skip=CKV2_AZURE_1: customer-managed keys are not required for this cache; Microsoft-managed keys encrypt at rest
    // checkov:skip=CKV2_AZURE_33: private endpoints need a VNet-integrated Container Apps environment, a planned later step
    // checkov:skip=CKV_AZURE_59: Container Apps without VNet integration reach the account over its public endpoint; access is identity-only (shared keys off except Azure Files)
    // checkov:skip=CKV_AZURE_35: the default network rule stays Allow for the same reason; anonymous access is off and identities are least-privilege
    // checkov:skip=CKV_AZURE_190: blob public access is disabled by allowBlobPublicAccess=false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // Azure Files mounts in Container Apps authenticate with the account key; blobs use managed identity
    allowSharedKeyAccess: true
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
        }
        file: {
          enabled: true
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource cacheContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: cacheContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource fileService 'Microsoft.Storage/storageAccounts/fileServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource rabbitShare 'Microsoft.Storage/storageAccounts/fileServices/shares@2023-05-01' = {
  parent: fileService
  name: rabbitShareName
  properties: {
    shareQuota: 10
  }
}

output accountId string = account.id
output accountName string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output cacheContainerName string = cacheContainer.name
output rabbitShareName string = rabbitShare.name
