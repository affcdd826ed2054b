// Alerts: queue-path error rate (calls the rollback runbook), dead-letter growth, shadow divergences.
param location string
param namePrefix string
param appInsightsId string
param workspaceId string
param automationAccountId string
param runbookName string
param webhookId string
@secure()
param webhookUri string
param alertEmail string
param errorRateThresholdPct int = 2
param minRequests int = 20
param tags object

resource rollbackGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-ag-rollback'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'cfrollback'
    enabled: true
    automationRunbookReceivers: [
      {
        name: 'rollback-runbook'
        automationAccountId: automationAccountId
        runbookName: runbookName
        webhookResourceId: webhookId
        isGlobalRunbook: false
        serviceUri: webhookUri
        useCommonAlertSchema: true
      }
    ]
    emailReceivers: empty(alertEmail) ? [] : [
      {
        name: 'oncall'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource notifyGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-ag-notify'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'cfnotify'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      {
        name: 'oncall'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// The routers' request spans (cloudfolio/telemetry.py, router/middleware/tracing.py) carry the serving path
// as customDimensions.routing_mode (queue/legacy). Errors are resultCode >= 500: Application Insights
// marks 4xx answers unsuccessful too, and those are the client's, so `success` is not used. Reads are
// sampled (services/core/sampling.py): each row counts as its itemCount requests, so sums, not counts.
// tests/infra/test_alert_telemetry.py checks this query against what the exporter really sends.
var errorRateQuery = '''
requests
| where tostring(customDimensions.routing_mode) == "queue"
| summarize total = sum(itemCount), failed = sumif(itemCount, toint(resultCode) >= 500)
| where total >= ${minRequests}
| extend ErrorRate = 100.0 * failed / total
'''

resource errorRate 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${namePrefix}-queue-error-rate'
  location: location
  tags: tags
  properties: {
    displayName: 'CloudFolio queue-path error rate'
    description: 'Queue-path error rate above ${errorRateThresholdPct} % over 5 minutes (at least ${minRequests} requests): roll back.'
    severity: 1
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: errorRateQuery
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'ErrorRate'
          operator: 'GreaterThan'
          threshold: errorRateThresholdPct
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        rollbackGroup.id
      ]
    }
  }
}

// Dramatiq logs "Retries exceeded for message" when it dead-letters a message.
var deadLetterQuery = '''
ContainerAppConsoleLogs_CL
| where Log_s has "Retries exceeded for message" or Log_s has "Aborting message"
| summarize DeadLettered = count()
'''

resource deadLetters 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${namePrefix}-dead-letters'
  location: location
  tags: tags
  properties: {
    displayName: 'CloudFolio dead-letter queue growth'
    description: 'More than 5 messages dead-lettered in 15 minutes: inspect with `cloudfolio queues`, replay with `cloudfolio dlq replay`.'
    severity: 2
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: deadLetterQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'DeadLettered'
          operator: 'GreaterThan'
          threshold: 5
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        notifyGroup.id
      ]
    }
  }
}

// The router logs one JSON line per shadow comparison: "shadow divergence ..." or "shadow comparison <verdict> ..."
// (source_changed, a push between the two fetches, is noise: compared, never counted as a divergence).
var mismatchQuery = '''
ContainerAppConsoleLogs_CL
| where Log_s has "cloudfolio.shadow"
| summarize compared = countif(Log_s has "shadow comparison" or Log_s has "shadow divergence"), mismatched = countif(Log_s has "shadow divergence")
| where compared >= 10
| extend MismatchRate = 100.0 * mismatched / compared
'''

resource mismatches 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${namePrefix}-shadow-mismatch'
  location: location
  tags: tags
  properties: {
    displayName: 'CloudFolio shadow mismatch rate'
    description: 'More than 1 % of shadow comparisons diverge (same source revision, different records) over 30 minutes: do not raise the rollout; see GET /admin/shadow.'
    severity: 2
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT30M'
    criteria: {
      allOf: [
        {
          query: mismatchQuery
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'MismatchRate'
          operator: 'GreaterThan'
          threshold: 1
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        notifyGroup.id
      ]
    }
  }
}

output rollbackActionGroupId string = rollbackGroup.id
