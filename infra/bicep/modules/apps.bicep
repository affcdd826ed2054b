// The CloudFolio container apps: router (external HTTPS), sync and merge workers (KEDA rabbitmq
// scaler, protocol http so unacked in-flight messages count), optional legacy orchestrator,
// rollout watcher, the trainer as an event-driven Container Apps Job on the training queue
// (single-task mode, scale to zero), and the rollback job the Automation runbook starts.
param location string
param namePrefix string
param environmentId string
param images object
param identities object
param storageBlobEndpoint string
param cacheContainerName string
param keyVaultUri string
param brokerUrlSecretUri string
param managementUrlSecretUri string
param adminTokenSecretUri string
param githubTokenSecretUri string
@description('Key Vault secret URI of REDIS-URL (the shared GitHub budget).')
param redisUrlSecretUri string
param deployLegacy bool
param externalLegacyUrl string
param planQueue string = 'refresh-plan'
param syncQueue string = 'github-sync'
param mergeQueue string = 'merge'
param trainingQueue string = 'training'
// Telemetry ingestion only (no read access); every process exports its spans with it (docs/OBSERVABILITY.md).
param appInsightsConnectionString string
param tags object

var sharedEnv = [
  {
    name: 'CLOUDFOLIO_STORAGE'
    value: 'azure'
  }
  {
    name: 'CLOUDFOLIO_STORAGE_ACCOUNT_URL'
    value: storageBlobEndpoint
  }
  {
    name: 'CLOUDFOLIO_STORAGE_CONTAINER'
    value: cacheContainerName
  }
  {
    name: 'CLOUDFOLIO_REPO_SOURCE'
    value: 'github'
  }
  {
    name: 'CLOUDFOLIO_LOG_FORMAT'
    value: 'json'
  }
  {
    name: 'CLOUDFOLIO_HOST'
    value: '0.0.0.0'
  }
  {
    name: 'CLOUDFOLIO_PLAN_QUEUE'
    value: planQueue
  }
  {
    name: 'CLOUDFOLIO_SYNC_QUEUE'
    value: syncQueue
  }
  {
    name: 'CLOUDFOLIO_MERGE_QUEUE'
    value: mergeQueue
  }
  {
    name: 'CLOUDFOLIO_TRAINING_QUEUE'
    value: trainingQueue
  }
  {
    name: 'CLOUDFOLIO_FLAG_STORE'
    value: 'keyvault'
  }
  {
    name: 'CLOUDFOLIO_KEYVAULT_URL'
    value: keyVaultUri
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: appInsightsConnectionString
  }
  {
    name: 'CLOUDFOLIO_BROKER_URL'
    secretRef: 'broker-url'
  }
  {
    name: 'GITHUB_TOKEN'
    secretRef: 'github-token'
  }
  {
    name: 'CLOUDFOLIO_REDIS_URL'
    secretRef: 'redis-url'
  }
]

var legacyUrl = deployLegacy ? 'http://${namePrefix}-legacy' : externalLegacyUrl

resource router 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${namePrefix}-router'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identities.router.id}': {}
    }
  }
  properties: {
    environmentId: environmentId
    configuration: {
      ingress: {
        external: true
        targetPort: 8000
        transport: 'http'
        allowInsecure: false
      }
      secrets: concat([
        {
          name: 'broker-url'
          keyVaultUrl: brokerUrlSecretUri
          identity: identities.router.id
        }
        {
          name: 'github-token'
          keyVaultUrl: githubTokenSecretUri
          identity: identities.router.id
        }
        {
          name: 'redis-url'
          keyVaultUrl: redisUrlSecretUri
          identity: identities.router.id
        }
      ], [
        {
          name: 'admin-token'
          keyVaultUrl: adminTokenSecretUri
          identity: identities.router.id
        }
      ])
    }
    template: {
      containers: [
        {
          name: 'router'
          image: images.router
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
          env: concat(sharedEnv, [
            {
              name: 'AZURE_CLIENT_ID'
              value: identities.router.clientId
            }
            {
              name: 'CLOUDFOLIO_LEGACY_URL'
              value: legacyUrl
            }
            {
              name: 'CLOUDFOLIO_ADMIN_TOKEN'
              secretRef: 'admin-token'
            }
          ])
          probes: [
            {
              type: 'Liveness'
              httpGet: {
                path: '/health'
                port: 8000
              }
              periodSeconds: 10
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/ready'
                port: 8000
              }
              periodSeconds: 10
              failureThreshold: 3
            }
          ]
        }
      ]
      scale: {
        minReplicas: 2
        maxReplicas: 5
        rules: [
          {
            name: 'http-concurrency'
            http: {
              metadata: {
                concurrentRequests: '50'
              }
            }
          }
        ]
      }
    }
  }
}

resource syncWorker 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${namePrefix}-sync'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identities.sync.id}': {}
    }
  }
  properties: {
    environmentId: environmentId
    configuration: {
      secrets: concat([
        {
          name: 'broker-url'
          keyVaultUrl: brokerUrlSecretUri
          identity: identities.sync.id
        }
        {
          name: 'github-token'
          keyVaultUrl: githubTokenSecretUri
          identity: identities.sync.id
        }
        {
          name: 'redis-url'
          keyVaultUrl: redisUrlSecretUri
          identity: identities.sync.id
        }
      ], [
        {
          name: 'rabbitmq-management-url'
          keyVaultUrl: managementUrlSecretUri
          identity: identities.sync.id
        }
      ])
    }
    template: {
      // ACA sends SIGTERM, then SIGKILL after this: matches `cloudfolio worker --shutdown-timeout 25`
      terminationGracePeriodSeconds: 30
      containers: [
        {
          name: 'sync'
          image: images.worker
          args: [
            'worker'
            'sync'
            // one process per half-core replica; KEDA scales the replicas
            '--processes'
            '1'
            '--health-port'
            '8081'
          ]
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
          env: concat(sharedEnv, [
            {
              name: 'AZURE_CLIENT_ID'
              value: identities.sync.clientId
            }
          ])
          probes: [
            {
              type: 'Liveness'
              httpGet: {
                path: '/health'
                port: 8081
              }
              periodSeconds: 15
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/health'
                port: 8081
              }
              periodSeconds: 15
            }
          ]
        }
      ]
      scale: {
        minReplicas: 2
        maxReplicas: 20
        rules: [
          {
            name: 'github-sync-queue'
            custom: {
              type: 'rabbitmq'
              metadata: {
                queueName: syncQueue
                mode: 'QueueLength'
                value: '10'
                protocol: 'http'
              }
              auth: [
                {
                  secretRef: 'rabbitmq-management-url'
                  triggerParameter: 'host'
                }
              ]
            }
          }
        ]
      }
    }
  }
}

resource mergeWorker 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${namePrefix}-merge'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identities.merge.id}': {}
    }
  }
  properties: {
    environmentId: environmentId
    configuration: {
      secrets: concat([
        {
          name: 'broker-url'
          keyVaultUrl: brokerUrlSecretUri
          identity: identities.merge.id
        }
        {
          name: 'github-token'
          keyVaultUrl: githubTokenSecretUri
          identity: identities.merge.id
        }
        {
          name: 'redis-url'
          keyVaultUrl: redisUrlSecretUri
          identity: identities.merge.id
        }
      ], [
        {
          name: 'rabbitmq-management-url'
          keyVaultUrl: managementUrlSecretUri
          identity: identities.merge.id
        }
      ])
    }
    template: {
      terminationGracePeriodSeconds: 30
      containers: [
        {
          name: 'merge'
          image: images.worker
          args: [
            'worker'
            'merge'
            // one process per half-core replica; KEDA scales the replicas
            '--processes'
            '1'
            '--health-port'
            '8081'
          ]
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
          env: concat(sharedEnv, [
            {
              name: 'AZURE_CLIENT_ID'
              value: identities.merge.clientId
            }
          ])
          probes: [
            {
              type: 'Liveness'
              httpGet: {
                path: '/health'
                port: 8081
              }
              periodSeconds: 15
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/health'
                port: 8081
              }
              periodSeconds: 15
            }
          ]
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: 3
        rules: [
          {
            name: 'merge-queue'
            custom: {
              type: 'rabbitmq'
              metadata: {
                queueName: mergeQueue
                mode: 'QueueLength'
                value: '5'
                protocol: 'http'
              }
              auth: [
                {
                  secretRef: 'rabbitmq-management-url'
                  triggerParameter: 'host'
                }
              ]
            }
          }
        ]
      }
    }
  }
}

resource legacy 'Microsoft.App/containerApps@2024-03-01' = if (deployLegacy) {
  name: '${namePrefix}-legacy'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identities.legacy.id}': {}
    }
  }
  properties: {
    environmentId: environmentId
    configuration: {
      ingress: {
        external: false
        targetPort: 7071
        transport: 'http'
      }
      secrets: [
        {
          name: 'broker-url'
          keyVaultUrl: brokerUrlSecretUri
          identity: identities.legacy.id
        }
        {
          name: 'github-token'
          keyVaultUrl: githubTokenSecretUri
          identity: identities.legacy.id
        }
        {
          name: 'redis-url'
          keyVaultUrl: redisUrlSecretUri
          identity: identities.legacy.id
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'legacy'
          image: images.worker
          args: [
            'legacy'
            '--port'
            '7071'
          ]
          resources: {
            cpu: json('1.0')
            memory: '2Gi'
          }
          env: concat(sharedEnv, [
            {
              name: 'AZURE_CLIENT_ID'
              value: identities.legacy.clientId
            }
          ])
          probes: [
            {
              type: 'Liveness'
              httpGet: {
                path: '/api/health'
                port: 7071
              }
              periodSeconds: 15
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/api/health'
                port: 7071
              }
              periodSeconds: 15
            }
          ]
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: 2
      }
    }
  }
}

resource watcher 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${namePrefix}-rollout-watch'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identities.rollback.id}': {}
    }
  }
  properties: {
    environmentId: environmentId
    configuration: {
      secrets: [
        {
          name: 'broker-url'
          keyVaultUrl: brokerUrlSecretUri
          identity: identities.rollback.id
        }
        {
          name: 'github-token'
          keyVaultUrl: githubTokenSecretUri
          identity: identities.rollback.id
        }
        {
          name: 'redis-url'
          keyVaultUrl: redisUrlSecretUri
          identity: identities.rollback.id
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'rollout-watch'
          image: images.worker
          args: [
            'rollout'
            'watch'
          ]
          resources: {
            cpu: json('0.25')
            memory: '0.5Gi'
          }
          env: concat(sharedEnv, [
            {
              name: 'AZURE_CLIENT_ID'
              value: identities.rollback.clientId
            }
            {
              name: 'CLOUDFOLIO_ROUTER_METRICS_URLS'
              value: 'http://${namePrefix}-router/metrics'
            }
          ])
          probes: [
            {
              type: 'Liveness'
              exec: {
                command: [
                  'cloudfolio'
                  'rollout'
                  'status'
                ]
              }
              periodSeconds: 60
            }
            {
              type: 'Readiness'
              exec: {
                command: [
                  'cloudfolio'
                  'rollout'
                  'status'
                ]
              }
              periodSeconds: 60
            }
          ]
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: 1
      }
    }
  }
}

resource trainer 'Microsoft.App/jobs@2024-03-01' = {
  name: '${namePrefix}-trainer'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identities.trainer.id}': {}
    }
  }
  properties: {
    environmentId: environmentId
    configuration: {
      triggerType: 'Event'
      replicaTimeout: 1800
      replicaRetryLimit: 1
      eventTriggerConfig: {
        parallelism: 1
        replicaCompletionCount: 1
        scale: {
          minExecutions: 0
          maxExecutions: 3
          pollingInterval: 30
          rules: [
            {
              name: 'training-queue'
              type: 'rabbitmq'
              metadata: {
                queueName: trainingQueue
                mode: 'QueueLength'
                value: '1'
                protocol: 'http'
              }
              auth: [
                {
                  secretRef: 'rabbitmq-management-url'
                  triggerParameter: 'host'
                }
              ]
            }
          ]
        }
      }
      secrets: concat([
        {
          name: 'broker-url'
          keyVaultUrl: brokerUrlSecretUri
          identity: identities.trainer.id
        }
        {
          name: 'github-token'
          keyVaultUrl: githubTokenSecretUri
          identity: identities.trainer.id
        }
        {
          name: 'redis-url'
          keyVaultUrl: redisUrlSecretUri
          identity: identities.trainer.id
        }
      ], [
        {
          name: 'rabbitmq-management-url'
          keyVaultUrl: managementUrlSecretUri
          identity: identities.trainer.id
        }
      ])
    }
    template: {
      containers: [
        {
          name: 'trainer'
          image: images.trainer
          args: [
            'train'
            '--from-queue'
          ]
          resources: {
            cpu: json('2.0')
            memory: '4Gi'
          }
          env: concat(sharedEnv, [
            {
              name: 'AZURE_CLIENT_ID'
              value: identities.trainer.clientId
            }
            {
              name: 'WORKER_TASK_TIMEOUT'
              value: '1500'
            }
          ])
        }
      ]
    }
  }
}

resource rollbackJob 'Microsoft.App/jobs@2024-03-01' = {
  name: '${namePrefix}-rollback'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identities.rollback.id}': {}
    }
  }
  properties: {
    environmentId: environmentId
    configuration: {
      triggerType: 'Manual'
      replicaTimeout: 300
      replicaRetryLimit: 2
      manualTriggerConfig: {
        parallelism: 1
        replicaCompletionCount: 1
      }
    }
    template: {
      containers: [
        {
          name: 'rollback'
          image: images.worker
          // the Automation runbook passes the common-alert-schema body in ALERT_BODY
          command: [
            'sh'
            '-c'
            'printf %s "$ALERT_BODY" | cloudfolio rollout rollback --alert -'
          ]
          resources: {
            cpu: json('0.25')
            memory: '0.5Gi'
          }
          env: [
            {
              name: 'CLOUDFOLIO_FLAG_STORE'
              value: 'keyvault'
            }
            {
              name: 'CLOUDFOLIO_KEYVAULT_URL'
              value: keyVaultUri
            }
            {
              // only the error-rate rule of alerts.bicep may roll back
              name: 'CLOUDFOLIO_ALERT_RULES'
              value: '${namePrefix}-queue-error-rate'
            }
            {
              name: 'AZURE_CLIENT_ID'
              value: identities.rollback.clientId
            }
            {
              name: 'ALERT_BODY'
              value: ''
            }
          ]
        }
      ]
    }
  }
}

output routerFqdn string = router.properties.configuration.ingress.fqdn
output rollbackJobName string = rollbackJob.name
output trainerJobName string = trainer.name
