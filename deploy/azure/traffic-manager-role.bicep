// deploybot's role on one Traffic Manager profile: on the profile itself, not its group.

targetScope = 'resourceGroup'

@description('The object id of the bot\'s system-assigned identity.')
param principalId string

param profileName string

// Traffic Manager Contributor: read the profile and change its endpoints' weights and status
// (blue-green switches and canary stages), nothing else in the resource group.
var trafficManagerContributor = 'a4b10055-b0c7-44c2-b00f-c7b5b3550cf7'

resource profile 'Microsoft.Network/trafficmanagerprofiles@2022-04-01' existing = {
  name: profileName
}

resource contributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(profile.id, principalId, trafficManagerContributor)
  scope: profile
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', trafficManagerContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
