// deploybot on Azure App Service for Containers, with a system-assigned managed identity.
//
//   az deployment group create --resource-group <bot-rg> \
//     --template-file deploy/azure/main.bicep --parameters @deploy/azure/main.parameters.example.json
//
// Deploy it into the resource group that holds the bot (with its container registry and Key
// Vault). The identity gets exactly what deploybot does with Azure, and nothing else:
//   - on each resource group of the apps it deploys: Website Contributor (slots, swaps, app
//     settings, restarts) and Monitoring Reader (the metrics health and canary verdicts read);
//   - on each Traffic Manager profile it shifts traffic on: Traffic Manager Contributor;
//   - on the Key Vault: Key Vault Secrets User, so App Service can resolve the secrets below;
//   - on the registry: AcrPull, so App Service can pull the image without a password.
// No role at subscription scope, no Contributor/Owner, and none of them can assign roles.
// See README, "Running on Azure".

targetScope = 'resourceGroup'

@description('Name of the web app (and the prefix of its plan). The Slack request URL is https://<name>.azurewebsites.net/slack/events.')
param name string = 'deploybot'

param location string = resourceGroup().location

@description('App Service plan SKU (Linux). B1 is enough for one team; P1v3 for zone redundancy.')
param planSku string = 'B1'

@description('The container registry (Azure Container Registry, in this resource group) holding the image.')
param registryName string

@description('Image and tag in that registry, e.g. deploybot:1.4.0 (built from the top-level Dockerfile).')
param image string

@description('Key Vault (in this resource group, Azure RBAC permission model) holding the secrets below.')
param keyVaultName string

@description('Secret names in that vault.')
param slackBotTokenSecret string = 'slack-bot-token'
param slackSigningSecretSecret string = 'slack-signing-secret'
@description('postgresql+asyncpg://user:password@server.postgres.database.azure.com:5432/deploybot?ssl=require')
param databaseUrlSecret string = 'deploybot-database-url'
param auditKeySecret string = 'deploybot-audit-key'

@description('DEPLOYBOT_JOB_LEASE: how long a replica holds a running job without renewing it; when a replica dies, another takes its jobs over after this. At least 1s.')
param jobLease string = '10s'

@description('Resource groups holding the App Service apps (and their slots) deploybot deploys.')
param appResourceGroups array

@description('Traffic Manager profiles deploybot shifts traffic on: [{ resourceGroup, name }]; [] when none.')
param trafficManagerProfiles array = []

// Built-in role definition IDs (the same in every tenant).
var roles = {
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: '${name}-plan'
  location: location
  kind: 'linux'
  sku: {
    name: planSku
  }
  properties: {
    reserved: true // Linux
  }
}

// App Service resolves @Microsoft.KeyVault(...) references with the app's own identity: the
// secrets never appear in the template, the deployment history or the portal.
var vaultRef = 'VaultName=${keyVaultName};SecretName='

resource site 'Microsoft.Web/sites@2023-12-01' = {
  name: name
  location: location
  kind: 'app,linux,container'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: 'SystemAssigned'
    siteConfig: {
      linuxFxVersion: 'DOCKER|${registry.properties.loginServer}/${image}'
      acrUseManagedIdentityCreds: true
      alwaysOn: true // jobs (deploys, canary stages) run inside the process
      healthCheckPath: '/healthz'
      http20Enabled: true
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: [
        { name: 'WEBSITES_PORT', value: '8080' } // the image's `deploybot serve --port 8080`
        { name: 'WEBSITES_ENABLE_APP_SERVICE_STORAGE', value: 'false' } // state lives in PostgreSQL
        { name: 'SLACK_BOT_TOKEN', value: '@Microsoft.KeyVault(${vaultRef}${slackBotTokenSecret})' }
        { name: 'SLACK_SIGNING_SECRET', value: '@Microsoft.KeyVault(${vaultRef}${slackSigningSecretSecret})' }
        { name: 'DEPLOYBOT_DATABASE_URL', value: '@Microsoft.KeyVault(${vaultRef}${databaseUrlSecret})' }
        { name: 'DEPLOYBOT_AUDIT_KEY', value: '@Microsoft.KeyVault(${vaultRef}${auditKeySecret})' }
        { name: 'DEPLOYBOT_JOB_LEASE', value: jobLease } // not a secret: a plain setting
        // azure-identity's DefaultAzureCredential finds the managed identity by itself.
      ]
    }
  }
}

// Pull the image with the identity instead of registry admin credentials.
resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, site.id, roles.acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
    principalId: site.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// Read secret values (not list, set or delete them), for the Key Vault references above.
resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, site.id, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: site.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

module appRoles 'app-resource-group-roles.bicep' = [for group in appResourceGroups: {
  name: '${name}-roles-${group}'
  scope: resourceGroup(group)
  params: {
    principalId: site.identity.principalId
  }
}]

module trafficManagerRoles 'traffic-manager-role.bicep' = [for profile in trafficManagerProfiles: {
  name: '${name}-tm-${profile.name}'
  scope: resourceGroup(profile.resourceGroup)
  params: {
    principalId: site.identity.principalId
    profileName: profile.name
  }
}]

@description('Paste into the Slack app: Slash Commands, Interactivity, Event Subscriptions.')
output slackRequestUrl string = 'https://${site.properties.defaultHostName}/slack/events'
output principalId string = site.identity.principalId
