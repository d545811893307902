// Roles for deploybot's identity on one resource group of the apps it deploys.

targetScope = 'resourceGroup'

@description('The object id of the bot\'s system-assigned identity.')
param principalId string

var roles = {
  // Website Contributor: Microsoft.Web/sites/* (create and swap slots, set app settings,
  // deploy, restart, read site state), without the App Service plans or role assignments.
  websiteContributor: 'de139f84-1756-47ae-9be6-808fbbe84772'
  // Monitoring Reader: Microsoft.Insights/metrics/read, for the Requests/Http5xx/response-time
  // metrics health checks and the canary judge read (Website Contributor does not grant it).
  monitoringReader: '43d0d8ad-25c7-4714-9337-8ba259a9fe05'
}

resource websiteContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roles.websiteContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.websiteContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource monitoringReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roles.monitoringReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringReader)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
