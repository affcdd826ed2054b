// Container Apps environment, logging to Log Analytics, with RabbitMQ's Azure Files volume.
param location string
param namePrefix string
param workspaceCustomerId string
@secure()
param workspaceSharedKey string
param storageAccountName string
param rabbitShareName string
param tags object

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource environment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: '${namePrefix}-cae'
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: workspaceCustomerId
        sharedKey: workspaceSharedKey
      }
    }
    zoneRedundant: false
  }
}

resource rabbitStorage 'Microsoft.App/managedEnvironments/storages@2024-03-01' = {
  parent: environment
  name: 'rabbitmq-data'
  properties: {
    azureFile: {
      accountName: account.name
      accountKey: account.listKeys().keys[0].value
      shareName: rabbitShareName
      accessMode: 'ReadWrite'
    }
  }
}

output environmentId string = environment.id
output rabbitStorageName string = rabbitStorage.name
output defaultDomain string = environment.properties.defaultDomain
