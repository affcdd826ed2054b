// Lets the rollback identity (used by the Automation runbook) start the rollback job, and nothing else.
param jobName string
param principalId string

var contributor = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b24988ac-6180-42a0-ab88-20f7382dd24c')

resource job 'Microsoft.App/jobs@2024-03-01' existing = {
  name: jobName
}

resource starter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(job.id, principalId, contributor)
  scope: job
  properties: {
    roleDefinitionId: contributor
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
