<#
.SYNOPSIS
  CloudFolio rollback runbook: started by the Azure Monitor alert's webhook with the common alert
  schema, it starts the rollback Container Apps Job, which runs `cloudfolio rollout rollback --alert -`
  with the alert body (QUEUE-TRAFFIC-PCT=0, ROLLOUT-LOCK, notification). The Python code is the same
  as the CLI's; this script only carries the body across.
#>
param (
    [Parameter(Mandatory = $false)]
    [object] $WebhookData
)

$ErrorActionPreference = "Stop"

if (-not $WebhookData -or -not $WebhookData.RequestBody) {
    throw "This runbook must be started by its webhook with an alert body."
}
$body = $WebhookData.RequestBody
$alert = $body | ConvertFrom-Json
if ($alert.schemaId -ne "azureMonitorCommonAlertSchema") {
    throw "Refusing a body that is not the Azure Monitor common alert schema."
}
if ($alert.data.essentials.monitorCondition -eq "Resolved") {
    Write-Output "Alert resolved: nothing to do (re-enabling is a human decision)."
    return
}

# "<resource group>;<job name>;<client id of the rollback identity>"
$settings = (Get-AutomationVariable -Name "RollbackSettings").Split(";")
$resourceGroup, $jobName, $clientId = $settings[0], $settings[1], $settings[2]

Connect-AzAccount -Identity -AccountId $clientId | Out-Null
$job = Get-AzContainerAppJob -ResourceGroupName $resourceGroup -Name $jobName
$container = $job.TemplateContainer[0]
$override = New-AzContainerAppJobExecutionContainerObject -Name $container.Name -Image $container.Image `
    -Command $container.Command `
    -Env @(
        @{ Name = "ALERT_BODY"; Value = $body },
        @{ Name = "CLOUDFOLIO_FLAG_STORE"; Value = "keyvault" },
        @{ Name = "CLOUDFOLIO_KEYVAULT_URL"; Value = ($container.Env | Where-Object Name -eq "CLOUDFOLIO_KEYVAULT_URL").Value },
        @{ Name = "AZURE_CLIENT_ID"; Value = $clientId }
    )
$execution = Start-AzContainerAppJob -ResourceGroupName $resourceGroup -Name $jobName -Template @{ Container = @($override) }
Write-Output "Started rollback job execution $($execution.Name) for alert $($alert.data.essentials.alertId)."
