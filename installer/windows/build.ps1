<#
.SYNOPSIS
  Build Meridian for Windows: the PyInstaller bundle, its self-test, and the Inno Setup installer.

.DESCRIPTION
  Run from a clone on Windows after `py -3.11 dev.py test` (or `dev.py build`) has made .venv:
    powershell -ExecutionPolicy Bypass -File installer\windows\build.ps1
  Output: dist\meridian\ (Meridian.exe, meridian-cli.exe), dist\installer\Meridian-<version>-setup.exe,
  and dist\installer\policy\ (meridian.admx, en-US\meridian.adml) beside it.

.PARAMETER Iscc
  Inno Setup's command-line compiler (6.3 or later).

.PARAMETER SignTool
  Optional: a signing command with $f for the file, e.g.
  'signtool.exe sign /fd sha256 /tr http://timestamp.example.com /td sha256 /n "Example Org" $f'.
  Signs Meridian.exe, meridian-cli.exe, the setup and its uninstaller.
#>
param(
    [string]$Iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe",
    [string]$SignTool = ""
)
$ErrorActionPreference = "Stop"
$Root = (Resolve-Path "$PSScriptRoot\..\..").Path
$Py = Join-Path $Root ".venv\Scripts\python.exe"
if (-not (Test-Path $Py)) { throw "No .venv: run 'py -3.11 dev.py build' or 'dev.py test' first." }
if (-not (Test-Path $Iscc)) { throw "Inno Setup not found at $Iscc (winget install JRSoftware.InnoSetup)." }
Set-Location $Root

# 1. The bundle (build.spec: version resource, console twin meridian-cli.exe).
& $Py -m PyInstaller --noconfirm --clean build.spec
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }
$Bundle = Join-Path $Root "dist\meridian"
$Cli = Join-Path $Bundle "meridian-cli.exe"

# 2. It runs: version, and one sync of the built-in demo in a temporary profile.
$Version = ((& $Cli --version) -split " ")[1]
& $Cli --selftest
if ($LASTEXITCODE -ne 0) { throw "The bundle failed its self-test" }
$Numeric = & $Py -c "import sys; sys.path.insert(0, 'installer/windows'); from version_info import numeric; import app; print('.'.join(map(str, numeric(app.__version__))))"

# 3. Sign the executables before they go into the installer.
if ($SignTool) {
    foreach ($exe in @("Meridian.exe", "meridian-cli.exe")) {
        $cmd = $SignTool.Replace('$f', '"' + (Join-Path $Bundle $exe) + '"')
        cmd /c $cmd
        if ($LASTEXITCODE -ne 0) { throw "Signing $exe failed" }
    }
}

# 4. The installer.
$Out = Join-Path $Root "dist\installer"
$IsccArgs = @(
    "/DAppVersion=$Version",
    "/DAppVersionNumeric=$Numeric",
    "/DSourceDir=$Bundle",
    "/DOutputDir=$Out",
    "/DPolicyDir=$Root\installer\policy"
)
if ($SignTool) { $IsccArgs += @("/DSignToolName=meridiansign", "/Smeridiansign=$SignTool") }
& $Iscc @IsccArgs (Join-Path $PSScriptRoot "meridian.iss")
if ($LASTEXITCODE -ne 0) { throw "ISCC failed" }

# 5. The Group Policy templates beside the installer, for the domain's central store.
New-Item -ItemType Directory -Force -Path "$Out\policy\en-US" | Out-Null
Copy-Item "$Root\installer\policy\meridian.admx" "$Out\policy\"
Copy-Item "$Root\installer\policy\en-US\meridian.adml" "$Out\policy\en-US\"
Write-Host "Built $Out\Meridian-$Version-setup.exe"
