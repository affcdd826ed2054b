// Azure Automation account with the rollback runbook (PowerShell 7.2) and its webhook. The runbook
// starts the rollback Container Apps Job with the alert body; the job runs `cloudfolio rollout
// rollback --alert -` (see docs/ROLLBACK-PLAYBOOK.md for why PowerShell fronts Python here).
param location string
param namePrefix string
param rollbackIdentityId string
param rollbackIdentityClientId string
param rollbackJobName string
param runbookContentUri string
@secure()
param webhookUri string
param webhookExpiry string
param tags object

resource account 'Microsoft.Automation/automationAccounts@2023-11-01' = {
  name: '${namePrefix}-aa'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${rollbackIdentityId}': {}
    }
  }
  properties: {
    sku: {
      name: 'Basic'
    }
    publicNetworkAccess: true
    disableLocalAuth: false
    encryption: {
      keySource: 'Microsoft.Automation'
    }
  }
}

resource variables 'Microsoft.Automation/automationAccounts/variables@2023-11-01' = {
  parent: account
  name: 'RollbackSettings'
  properties: {
    isEncrypted: true
    value: '"${resourceGroup().name};${rollbackJobName};${rollbackIdentityClientId}"'
  }
}

resource runbook 'Microsoft.Automation/automationAccounts/runbooks@2023-11-01' = {
  parent: account
  name: 'Invoke-CloudfolioRollback'
  location: location
  tags: tags
  properties: {
    runbookType: 'PowerShell72'
    logProgress: true
    logVerbose: false
    description: 'Rolls the CloudFolio queue path back to the legacy orchestrator on an Azure Monitor alert.'
    publishContentLink: {
      uri: runbookContentUri
    }
  }
}

resource webhook 'Microsoft.Automation/automationAccounts/webhooks@2015-10-31' = {
  parent: account
  name: 'rollback-alert'
  properties: {
    isEnabled: true
    expiryTime: webhookExpiry
    uri: webhookUri
    runbook: {
      name: runbook.name
    }
  }
}

output accountId string = account.id
output runbookName string = runbook.name
output webhookId string = webhook.id
