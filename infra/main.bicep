// Everything the licensing Functions app needs in one resource group: a Flex Consumption
// Python 3.11 app with a system-assigned identity, its storage (host, deployment package,
// the app's queues and tables; no shared keys), a Key Vault (RBAC), Application Insights
// on a Log Analytics workspace (Entra-only ingestion), and an operator alert.
//
// Raw resources only (no registry modules): checkov scans this file, and it must stay
// readable by the pinned pycep parser (no `string?`, no user-defined `func`, no spread).
// docs/deploy.md explains how to deploy it; tests/infra/test_consistency.py holds it to
// shared/names.py and shared/settings.py.

targetScope = 'resourceGroup'

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

@description('Azure region of every resource. Flex Consumption is not offered in every region: `az functionapp list-flexconsumption-locations`.')
param location string = resourceGroup().location

@description('Short prefix of resource names (lowercase letters and digits; the first 9 characters go into the storage account and vault names).')
@minLength(2)
@maxLength(20)
param baseName string = 'msplic'

@description('Application (client) id of the MSP\'s multi-tenant Entra app registration used for Microsoft Graph.')
@minLength(36)
@maxLength(36)
param graphClientId string

@description('Entra authority host: https://login.microsoftonline.com (public cloud) or https://login.microsoftonline.us (GCC High).')
param graphAuthorityHost string = 'https://login.microsoftonline.com'

@description('Microsoft Graph base URL: https://graph.microsoft.com (public cloud) or https://graph.microsoft.us (GCC High).')
param graphBaseUrl string = 'https://graph.microsoft.com'

@description('Seconds before looking again for a bought seat in the tenant (first delay).')
@minValue(1)
param licenseWaitInitialSeconds int = 60

@description('Longest delay, in seconds, between two looks for a bought seat.')
@minValue(1)
param licenseWaitMaxSeconds int = 900

@description('Hours after which waiting for a bought seat gives up (seat_not_provisioned).')
@minValue(1)
param licenseWaitDeadlineHours int = 24

@description('Seconds to keep retrying a user that Graph does not find yet before user_not_found.')
@minValue(0)
param userLookupDeadlineSeconds int = 300

@description('Format of webhook notifications: json (the generic body, signed with X-Signature) or teams (an Adaptive Card message). The webhook URL and its signing secret are Key Vault secrets notify-webhook-url and notify-webhook-secret; while notify-webhook-url is not in the vault, nothing is sent.')
@allowed([
  'json'
  'teams'
])
param notifyFormat string = 'json'

@description('Most instances Flex Consumption may scale the app out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory of each Flex Consumption instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Replication of the storage account. It holds the purchase ledger that prevents double purchases, so geo-redundant by default (offered in every region); Standard_ZRS/GZRS where the region has zones.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param storageSkuName string = 'Standard_GRS'

@description('Days the Log Analytics workspace keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('E-mail address that receives the operator alert (failed onboarding, poison message). Empty: the alert still fires and shows in Azure Monitor, but nobody is e-mailed.')
param alertEmail string = ''

@description('Tags put on every resource.')
param tags object = {}

@description('Object id of the MSP automation platform\'s identity (its managed identity, or the service principal of its app registration) that puts onboarding events on the queue and reads results. Empty: no access is granted; the platform can still use POST /api/onboarding with a function key.')
param platformPrincipalId string = ''

@description('Kind of platformPrincipalId: ServicePrincipal for a managed identity or an app registration\'s service principal; User or Group for tests by a person.')
@allowed([
  'ServicePrincipal'
  'User'
  'Group'
])
param platformPrincipalType string = 'ServicePrincipal'

// ---------------------------------------------------------------------------------------------
// Names and constants
// ---------------------------------------------------------------------------------------------

var suffix = uniqueString(resourceGroup().id, baseName)
var compactBase = take(toLower(replace(baseName, '-', '')), 9)

var storageAccountName = 'st${compactBase}${suffix}'
var keyVaultName = 'kv${compactBase}${suffix}'
var functionAppName = '${baseName}-func-${suffix}'
var planName = '${baseName}-plan-${suffix}'
var workspaceName = '${baseName}-logs-${suffix}'
var appInsightsName = '${baseName}-appi-${suffix}'
var actionGroupName = '${baseName}-operators-${suffix}'
var alertRuleName = '${baseName}-onboarding-failures-${suffix}'

// Flex Consumption pulls the app package from this blob container with the app's identity.
var deploymentContainerName = 'app-package'

// Every queue in shared/names.py ALL_QUEUES (the -poison twins included, so that the alert
// and replay tooling find them even before the host first creates one). The two the
// automation platform uses are resources of their own (below): its roles are scoped to them.
var onboardingEventsQueueName = 'onboarding-events'
var onboardingResultsQueueName = 'onboarding-results'
var workQueueNames = [
  'license-purchases'
  'license-waits'
  'notifications'
  'onboarding-events-poison'
  'license-purchases-poison'
  'license-waits-poison'
  'notifications-poison'
]

// Every table in shared/names.py ALL_TABLES. `devsecrets` stays empty in Azure (KEY_VAULT_URI
// is set), but creating it keeps the storage layout the same everywhere.
var tableNames = [
  'orgs'
  'orgvariables'
  'devsecrets'
  'onboardingledger'
  'purchaseledger'
  'subscriptionlocks'
]

// Operator alert: a licence that ended `failed` (the app logs `state=failed`), or a message the
// host moved to a `-poison` queue after maxDequeueCount failures.
var alertQuery = '''
AppTraces
| where Message contains "state=failed" or Message contains "-poison"
| project TimeGenerated, AppRoleName, SeverityLevel, Message
'''

// ---------------------------------------------------------------------------------------------
// Monitoring
// ---------------------------------------------------------------------------------------------

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    // Ingestion only with an Entra token (the app's identity, Monitoring Metrics Publisher).
    DisableLocalAuth: true
  }
}

// ---------------------------------------------------------------------------------------------
// Storage: host storage, deployment package, the app's queues and tables
// ---------------------------------------------------------------------------------------------

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: the Flex Consumption app runs without VNet integration, so its storage calls come from shared, changing outbound addresses; a default-deny firewall would cut off the host, the triggers and the deployment package. Shared keys are off, so every call needs an Entra token with a data role.
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35: an app without VNet integration reaches its storage over the public endpoint; access is by Entra identity only (allowSharedKeyAccess false).
  // checkov:skip=CKV_AZURE_43: the name is 'st' + up to 9 lowercase characters of baseName + uniqueString() (13 lowercase alphanumerics), at most 24 characters; checkov cannot evaluate uniqueString() and so cannot see the final name.
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: storageSkuName
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    isLocalUserEnabled: false
    isSftpEnabled: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Child resources are top-level with `parent:`: checkov's pycep cannot read a loop nested
// inside a resource body.
resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queueName in workQueueNames: {
  parent: queueService
  name: queueName
}]

// Where the automation platform puts one message per new hire.
resource onboardingEventsQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: onboardingEventsQueueName
}

// Where the app puts each event's final status for the platform to read.
resource onboardingResultsQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: onboardingResultsQueueName
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for tableName in tableNames: {
  parent: tableService
  name: tableName
}]

// ---------------------------------------------------------------------------------------------
// Key Vault: the Graph client secret, and the Synnex credentials the app writes itself
// ---------------------------------------------------------------------------------------------

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: App Service resolves Key Vault references, and the app calls the vault, from shared outbound addresses unless the app has VNet integration (not part of this template); a default-deny firewall would break GRAPH_CLIENT_SECRET and the Synnex credential store. Access is RBAC-only with the app's identity.
  // checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109; the vault must be reachable publicly by an app without VNet integration, and every call needs an Entra token with a Key Vault data role.
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The function app (Flex Consumption, Linux, Python 3.11)
// ---------------------------------------------------------------------------------------------

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy exists only in some regions and needs zone-redundant storage; this template must deploy in any Flex region. The work is queue-driven and at-least-once, so losing a zone delays onboarding events, it loses none.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: callers authenticate with a function key (contract section 1: the MSP's form backend sends x-functions-key); requiring client certificates would lock that caller out.
  // checkov:skip=CKV_AZURE_78: Flex Consumption rejects siteConfig.ftpsState; FTP is turned off instead by the basicPublishingCredentialsPolicies 'ftp' resource (allow false) below.
  // checkov:skip=CKV_AZURE_222: the MSP's automation platform calls the HTTP API over the internet, so public access is required; every route but /api/openapi.json needs a function key.
  // checkov:skip=CKV_AZURE_212: siteConfig.numberOfWorkers is a dedicated-plan setting; Flex Consumption adds instances per function on demand (maximumInstanceCount), and the queue work is at-least-once, so a lost instance delays work and loses none.
  // checkov:skip=CKV_AZURE_213: App Service health check pings a path on a fixed set of load-balanced instances; Flex Consumption replaces instances itself, and the contract's API has no health route.
  name: functionAppName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  // Flex reads its package from this container; it must exist before the app does.
  dependsOn: [
    deploymentContainer
  ]
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
      remoteDebuggingEnabled: false
      // On Flex the platform owns FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION and the
      // package location (functionAppConfig); setting them here is rejected.
      appSettings: [
        // Host storage and the app's own queues and tables, by identity (no keys exist).
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storage.name
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'KEY_VAULT_URI'
          value: keyVault.properties.vaultUri
        }
        {
          name: 'GRAPH_CLIENT_ID'
          value: graphClientId
        }
        {
          // Resolved by the platform with the app's identity; the operator puts the secret in
          // the vault after the first deployment (docs/deploy.md).
          name: 'GRAPH_CLIENT_SECRET'
          value: '@Microsoft.KeyVault(VaultName=${keyVault.name};SecretName=graph-client-secret)'
        }
        {
          // Webhook notifications: the URL may carry a token, so it is a secret like the
          // signing key. Until the operator puts them in the vault (docs/deploy.md) the
          // references stay unresolved and the app sends no notifications.
          name: 'NOTIFY_WEBHOOK_URL'
          value: '@Microsoft.KeyVault(VaultName=${keyVault.name};SecretName=notify-webhook-url)'
        }
        {
          name: 'NOTIFY_WEBHOOK_SECRET'
          value: '@Microsoft.KeyVault(VaultName=${keyVault.name};SecretName=notify-webhook-secret)'
        }
        {
          name: 'NOTIFY_FORMAT'
          value: notifyFormat
        }
        {
          name: 'GRAPH_AUTHORITY_HOST'
          value: graphAuthorityHost
        }
        {
          name: 'GRAPH_BASE_URL'
          value: graphBaseUrl
        }
        {
          name: 'LICENSE_WAIT_INITIAL_SECONDS'
          value: string(licenseWaitInitialSeconds)
        }
        {
          name: 'LICENSE_WAIT_MAX_SECONDS'
          value: string(licenseWaitMaxSeconds)
        }
        {
          name: 'LICENSE_WAIT_DEADLINE_HOURS'
          value: string(licenseWaitDeadlineHours)
        }
        {
          name: 'USER_LOOKUP_DEADLINE_SECONDS'
          value: string(userLookupDeadlineSeconds)
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        {
          // Entra-authenticated ingestion with the system-assigned identity (local auth is off).
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'Authorization=AAD'
        }
      ]
    }
  }
}

// No FTP and no SCM basic auth: deployments authenticate with Entra (az login / Core Tools).
resource ftpPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

// ---------------------------------------------------------------------------------------------
// Role assignments for the app's identity, and no more
// ---------------------------------------------------------------------------------------------

// Storage Blob Data Owner: host leases and the deployment package.
resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionApp.id, 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Queue Data Contributor: queue triggers, poison moves, the app's own messages.
resource queueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionApp.id, '974c5e8b-45b9-4653-ba55-5f855dd0fb88')
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '974c5e8b-45b9-4653-ba55-5f855dd0fb88')
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Table Data Contributor: orgs, variables, ledgers, locks.
resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionApp.id, '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault Secrets Officer: the app writes the Synnex credentials itself (and reads the Graph
// secret through the Key Vault reference).
resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, functionApp.id, 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7')
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7')
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// Monitoring Metrics Publisher: Entra-authenticated telemetry ingestion.
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, functionApp.id, '3913510d-42f4-4e42-8a64-420c390055eb')
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '3913510d-42f4-4e42-8a64-420c390055eb')
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------------------------------------
// The automation platform's identity (optional): send to onboarding-events, read and delete on
// onboarding-results, each role scoped to that one queue and nothing else
// ---------------------------------------------------------------------------------------------

// Storage Queue Data Message Sender: put messages, nothing else (no peek, no delete).
resource platformEventsSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(platformPrincipalId)) {
  name: guid(onboardingEventsQueue.id, platformPrincipalId, 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a')
  scope: onboardingEventsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a')
    principalId: platformPrincipalId
    principalType: platformPrincipalType
    description: 'The MSP automation platform puts onboarding events on this queue.'
  }
}

// Storage Queue Data Message Processor: peek, get and delete messages of this queue.
resource platformResultsProcessor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(platformPrincipalId)) {
  name: guid(onboardingResultsQueue.id, platformPrincipalId, '8a0f0c08-91a1-4084-bc3d-661d67233fed')
  scope: onboardingResultsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '8a0f0c08-91a1-4084-bc3d-661d67233fed')
    principalId: platformPrincipalId
    principalType: platformPrincipalType
    description: 'The MSP automation platform reads and deletes onboarding results on this queue.'
  }
}

// The form's function key is not created here: Microsoft.Web/sites/functions/keys needs the
// function to exist, and on Flex Consumption the functions exist only once the code is
// published (after this deployment). scripts/deploy sets the key with `az functionapp
// function keys set` on each function of shared/names.py FORM_FUNCTIONS after publishing.

// ---------------------------------------------------------------------------------------------
// Operator alert: a failed onboarding licence, or a message moved to a poison queue
// ---------------------------------------------------------------------------------------------

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'msplicense'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource onboardingFailureAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: alertRuleName
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Onboarding failed or message poisoned (${functionAppName})'
    description: 'A licence of an onboarding event ended in state=failed, or the Functions host moved a queue message to a -poison queue. Look up the event with GET /api/onboarding/{event_id}; what to do: "Operator alert" in docs/deploy.md.'
    severity: 2
    enabled: true
    scopes: [
      workspace.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: alertQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: empty(alertEmail) ? [] : [
        actionGroup.id
      ]
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------

output functionAppName string = functionApp.name
output functionAppDefaultHostName string = functionApp.properties.defaultHostName
output functionAppPrincipalId string = functionApp.identity.principalId
output keyVaultName string = keyVault.name
output keyVaultUri string = keyVault.properties.vaultUri
output storageAccountName string = storage.name
// What the automation platform calls: POST <url>/messages to send, GET/DELETE to read results.
output onboardingEventsQueueUrl string = '${storage.properties.primaryEndpoints.queue}${onboardingEventsQueue.name}'
output onboardingResultsQueueUrl string = '${storage.properties.primaryEndpoints.queue}${onboardingResultsQueue.name}'
output appInsightsName string = appInsights.name
output alertRuleName string = onboardingFailureAlert.name
