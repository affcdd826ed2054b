// RabbitMQ as a container app: internal ingress only, data on Azure Files, password from Key Vault.
param location string
param namePrefix string
param environmentId string
param storageName string
param identityId string
param rabbitSecretUri string
param image string = 'docker.io/library/rabbitmq:3.13.7-management'
param tags object

resource rabbit 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${namePrefix}-rabbitmq'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    environmentId: environmentId
    configuration: {
      ingress: {
        external: false
        targetPort: 5672
        transport: 'tcp'
        exposedPort: 5672
        additionalPortMappings: [
          {
            external: false
            targetPort: 15672
            exposedPort: 15672
          }
        ]
      }
      secrets: [
        {
          name: 'rabbitmq-password'
          keyVaultUrl: rabbitSecretUri
          identity: identityId
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'rabbitmq'
          image: image
          resources: {
            cpu: json('1.0')
            memory: '2Gi'
          }
          env: [
            {
              name: 'RABBITMQ_DEFAULT_USER'
              value: 'cloudfolio'
            }
            {
              name: 'RABBITMQ_DEFAULT_PASS'
              secretRef: 'rabbitmq-password'
            }
          ]
          volumeMounts: [
            {
              volumeName: 'data'
              mountPath: '/var/lib/rabbitmq'
            }
          ]
          probes: [
            {
              type: 'Liveness'
              tcpSocket: {
                port: 5672
              }
              initialDelaySeconds: 20
              periodSeconds: 20
            }
            {
              type: 'Readiness'
              tcpSocket: {
                port: 5672
              }
              periodSeconds: 10
            }
          ]
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: 1
      }
      volumes: [
        {
          name: 'data'
          storageType: 'AzureFile'
          storageName: storageName
        }
      ]
    }
  }
}

output host string = rabbit.name
