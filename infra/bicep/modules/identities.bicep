// One user-assigned managed identity per app (least privilege: roles are granted per identity).
param location string
param namePrefix string
param tags object

var names = [
  'router'
  'sync'
  'merge'
  'trainer'
  'legacy'
  'rollback'
  'rabbitmq'
]

resource identities 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = [for name in names: {
  name: '${namePrefix}-id-${name}'
  location: location
  tags: tags
}]

output router object = {
  id: identities[0].id
  principalId: identities[0].properties.principalId
  clientId: identities[0].properties.clientId
}
output sync object = {
  id: identities[1].id
  principalId: identities[1].properties.principalId
  clientId: identities[1].properties.clientId
}
output merge object = {
  id: identities[2].id
  principalId: identities[2].properties.principalId
  clientId: identities[2].properties.clientId
}
output trainer object = {
  id: identities[3].id
  principalId: identities[3].properties.principalId
  clientId: identities[3].properties.clientId
}
output legacy object = {
  id: identities[4].id
  principalId: identities[4].properties.principalId
  clientId: identities[4].properties.clientId
}
output rollback object = {
  id: identities[5].id
  principalId: identities[5].properties.principalId
  clientId: identities[5].properties.clientId
}
output rabbitmq object = {
  id: identities[6].id
  principalId: identities[6].properties.principalId
  clientId: identities[6].properties.clientId
}
