// CloudFolio gateway on Azure: monitoring, storage, Key Vault, Container Apps (router, queue
// workers, trainer job, RabbitMQ), managed identities with least privilege, the rollback runbook
// and its alerts. Deploy with docs/DEPLOY.md.
targetScope = 'resourceGroup'

@description('Short environment name, used in resource names (dev, prod).')
@allowed([
  'dev'
  'prod'
])
param environmentName string

@description('Prefix for resource names.')
@minLength(3)
@maxLength(12)
param namePrefix string = 'cloudfolio'

param location string = resourceGroup().location

@description('Container images: { router, worker, trainer }, e.g. myacr.azurecr.io/cloudfolio-router:1.0.0.')
param images object

@description('Globally unique storage account name (3-24 lowercase letters and digits).')
param storageAccountName string

@description('Globally unique Key Vault name.')
param keyVaultName string

@description('Use an existing broker instead of the RabbitMQ container app.')
param useExternalBroker bool = false

@secure()
@description('amqp(s):// URL of the external broker (with useExternalBroker).')
param externalBrokerUrl string = ''

@secure()
@description('http(s):// management API URL of the external broker, for the KEDA scalers (with useExternalBroker).')
param externalManagementUrl string = ''

@secure()
@description('Password of the RabbitMQ container app (ignored with useExternalBroker).')
param rabbitmqPassword string

@secure()
@description('Bearer token for the router admin API.')
param adminToken string

@secure()
@description('GitHub token for the repo source.')
param githubToken string

@description('Azure Cache for Redis tier for the shared GitHub budget: Basic (dev) or Standard (replicated, prod).')
@allowed([
  'Basic'
  'Standard'
])
param redisSku string = 'Basic'

@description('Deploy the legacy orchestrator replica as a container app; false points the router at externalLegacyUrl.')
param deployLegacy bool = false

@description('Base URL of the real legacy Function App (when deployLegacy is false).')
param externalLegacyUrl string = ''

@description('Where Automation downloads the runbook script (infra/runbook/Invoke-CloudfolioRollback.ps1).')
param runbookContentUri string

@secure()
@description('The Automation webhook URI, generated before deployment (docs/DEPLOY.md); shown once, keep it secret.')
param rollbackWebhookUri string

@description('Webhook expiry (ISO 8601).')
param rollbackWebhookExpiry string

@description('Email for alert notifications; empty for none.')
param alertEmail string = ''

var prefix = '${namePrefix}-${environmentName}'
var tags = {
  application: 'cloudfolio'
  environment: environmentName
}
var rabbitHost = '${prefix}-rabbitmq'
var brokerUrl = useExternalBroker ? externalBrokerUrl : 'amqp://cloudfolio:${rabbitmqPassword}@${rabbitHost}:5672/%2F'
var managementUrl = useExternalBroker ? externalManagementUrl : 'http://cloudfolio:${rabbitmqPassword}@${rabbitHost}:15672/%2F'

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    namePrefix: prefix
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    storageAccountName: storageAccountName
    tags: tags
  }
}

module vault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    keyVaultName: keyVaultName
    rabbitmqPassword: rabbitmqPassword
    brokerUrl: brokerUrl
    managementUrl: managementUrl
    adminToken: adminToken
    githubToken: githubToken
    tags: tags
  }
}

module redis 'modules/redis.bicep' = {
  name: 'redis'
  params: {
    location: location
    namePrefix: prefix
    keyVaultName: vault.outputs.vaultName
    skuName: redisSku
    tags: tags
  }
}

module identities 'modules/identities.bicep' = {
  name: 'identities'
  params: {
    location: location
    namePrefix: prefix
    tags: tags
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    storageAccountName: storage.outputs.accountName
    keyVaultName: vault.outputs.vaultName
    blobWriterPrincipalIds: [
      identities.outputs.router.principalId
      identities.outputs.sync.principalId
      identities.outputs.merge.principalId
      identities.outputs.trainer.principalId
      identities.outputs.legacy.principalId
    ]
    secretReaderPrincipalIds: [
      identities.outputs.router.principalId
      identities.outputs.sync.principalId
      identities.outputs.merge.principalId
      identities.outputs.trainer.principalId
      identities.outputs.legacy.principalId
      identities.outputs.rabbitmq.principalId
    ]
    secretOfficerPrincipalId: identities.outputs.rollback.principalId
  }
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: '${prefix}-law'
}

module environment 'modules/environment.bicep' = {
  name: 'environment'
  params: {
    location: location
    namePrefix: prefix
    workspaceCustomerId: monitoring.outputs.workspaceCustomerId
    workspaceSharedKey: workspace.listKeys().primarySharedKey
    storageAccountName: storage.outputs.accountName
    rabbitShareName: storage.outputs.rabbitShareName
    tags: tags
  }
}

module rabbitmq 'modules/rabbitmq.bicep' = if (!useExternalBroker) {
  name: 'rabbitmq'
  params: {
    location: location
    namePrefix: prefix
    environmentId: environment.outputs.environmentId
    storageName: environment.outputs.rabbitStorageName
    identityId: identities.outputs.rabbitmq.id
    rabbitSecretUri: vault.outputs.rabbitSecretUri
    tags: tags
  }
  dependsOn: [
    roles
  ]
}

module apps 'modules/apps.bicep' = {
  name: 'apps'
  params: {
    location: location
    namePrefix: prefix
    environmentId: environment.outputs.environmentId
    images: images
    identities: identities.outputs
    storageBlobEndpoint: storage.outputs.blobEndpoint
    cacheContainerName: storage.outputs.cacheContainerName
    keyVaultUri: vault.outputs.vaultUri
    brokerUrlSecretUri: vault.outputs.brokerUrlSecretUri
    managementUrlSecretUri: vault.outputs.managementUrlSecretUri
    adminTokenSecretUri: vault.outputs.adminTokenSecretUri
    githubTokenSecretUri: vault.outputs.githubTokenSecretUri
    redisUrlSecretUri: redis.outputs.redisUrlSecretUri
    deployLegacy: deployLegacy
    externalLegacyUrl: externalLegacyUrl
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    tags: tags
  }
  dependsOn: [
    roles
  ]
}

module automation 'modules/automation.bicep' = {
  name: 'automation'
  params: {
    location: location
    namePrefix: prefix
    rollbackIdentityId: identities.outputs.rollback.id
    rollbackIdentityClientId: identities.outputs.rollback.clientId
    rollbackJobName: apps.outputs.rollbackJobName
    runbookContentUri: runbookContentUri
    webhookUri: rollbackWebhookUri
    webhookExpiry: rollbackWebhookExpiry
    tags: tags
  }
}

module jobStarter 'modules/job-starter-role.bicep' = {
  name: 'job-starter-role'
  params: {
    jobName: apps.outputs.rollbackJobName
    principalId: identities.outputs.rollback.principalId
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    namePrefix: prefix
    appInsightsId: monitoring.outputs.appInsightsId
    workspaceId: monitoring.outputs.workspaceId
    automationAccountId: automation.outputs.accountId
    runbookName: automation.outputs.runbookName
    webhookId: automation.outputs.webhookId
    webhookUri: rollbackWebhookUri
    alertEmail: alertEmail
    tags: tags
  }
}

output routerUrl string = 'https://${apps.outputs.routerFqdn}'
output storageAccountName string = storage.outputs.accountName
output keyVaultUri string = vault.outputs.vaultUri
output rabbitmqHost string = useExternalBroker ? 'external broker' : rabbitHost
output automationWebhook string = 'The rollback webhook URI is the secure parameter rollbackWebhookUri; it is not an output. Regenerate it as docs/DEPLOY.md shows.'
output appInsightsConnectionString string = monitoring.outputs.appInsightsConnectionString
