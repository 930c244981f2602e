<#
.SYNOPSIS
Installs mfa-session @VERSION@ for Windows (x64) from the release's zip, after
checking its SHA-256 against the release's SHA256SUMS: on a mismatch nothing
is installed.

.DESCRIPTION
  irm @RELEASE_URL@/install.ps1 | iex

installs into %LOCALAPPDATA%\Programs\mfa-session. Another folder:

  & ([scriptblock]::Create((irm @RELEASE_URL@/install.ps1))) -InstallDir C:\tools\mfa-session

MFA_SESSION_DOWNLOAD_URL, when set, is where the zip and SHA256SUMS are
downloaded from instead of @RELEASE_URL@.
#>
[CmdletBinding()]
param(
    # The folder to put mfa-session.exe in.
    [string] $InstallDir = ''
)

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Set-StrictMode -Version 3

$version = '@VERSION@'
$base = '@RELEASE_URL@'
if ($env:MFA_SESSION_DOWNLOAD_URL) { $base = $env:MFA_SESSION_DOWNLOAD_URL }
$base = $base.TrimEnd('/')
if (-not $InstallDir) {
    if (-not $env:LOCALAPPDATA) { throw 'install.ps1: LOCALAPPDATA is not set: pass -InstallDir' }
    $InstallDir = Join-Path $env:LOCALAPPDATA 'Programs\mfa-session'
}

function Say([string] $Line) { Write-Host "install.ps1: $Line" }

$name = "mfa-session-$version-x86_64-pc-windows-gnu"
$archive = "$name.zip"

# Windows PowerShell 5.1 may not offer TLS 1.2 by default.
if ($PSVersionTable.PSVersion.Major -lt 6) {
    [Net.ServicePointManager]::SecurityProtocol =
        [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
}

$tmp = Join-Path ([IO.Path]::GetTempPath()) ("mfa-session-" + [Guid]::NewGuid().ToString('N'))
New-Item -ItemType Directory -Path $tmp | Out-Null
try {
    Say "downloading $base/$archive"
    $sums = Join-Path $tmp 'SHA256SUMS'
    $zip = Join-Path $tmp $archive
    Invoke-WebRequest -UseBasicParsing -Uri "$base/SHA256SUMS" -OutFile $sums
    Invoke-WebRequest -UseBasicParsing -Uri "$base/$archive" -OutFile $zip

    $expected = $null
    foreach ($line in Get-Content -LiteralPath $sums) {
        $fields = $line -split '\s+', 2
        if ($fields.Count -eq 2 -and $fields[1].TrimStart('*') -eq $archive) {
            $expected = $fields[0].ToLowerInvariant()
            break
        }
    }
    if (-not $expected) {
        throw "install.ps1: SHA256SUMS has no line for ${archive}: nothing was installed"
    }
    $actual = (Get-FileHash -Algorithm SHA256 -LiteralPath $zip).Hash.ToLowerInvariant()
    if ($actual -ne $expected) {
        throw "install.ps1: checksum mismatch for ${archive}: SHA256SUMS says $expected, the download is ${actual}; nothing was installed"
    }
    Say "checksum OK: $actual"

    $unpacked = Join-Path $tmp 'unpacked'
    Expand-Archive -LiteralPath $zip -DestinationPath $unpacked
    $exe = Join-Path (Join-Path $unpacked $name) 'mfa-session.exe'
    if (-not (Test-Path -LiteralPath $exe)) {
        throw "install.ps1: $archive has no $name\mfa-session.exe: nothing was installed"
    }

    New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
    # Copied next to the old one, then moved over it: never half a binary.
    $target = Join-Path $InstallDir 'mfa-session.exe'
    $partial = Join-Path $InstallDir 'mfa-session.exe.new'
    Copy-Item -LiteralPath $exe -Destination $partial -Force
    Move-Item -LiteralPath $partial -Destination $target -Force
    foreach ($doc in 'README.md', 'LICENSE', 'mfa-session.1') {
        Copy-Item -LiteralPath (Join-Path (Join-Path $unpacked $name) $doc) -Destination $InstallDir -Force
    }
    Say "installed $target ($(& $target --version))"
}
finally {
    Remove-Item -LiteralPath $tmp -Recurse -Force -ErrorAction SilentlyContinue
}

$userPath = [Environment]::GetEnvironmentVariable('Path', 'User')
$onPath = @(($env:Path + ';' + $userPath) -split ';' | Where-Object { $_ -and ($_.TrimEnd('\') -ieq $InstallDir.TrimEnd('\')) })
if ($onPath.Count -eq 0) {
    Say "$InstallDir is not on PATH; to add it for your user, run this, then open a new terminal:"
    Say "  [Environment]::SetEnvironmentVariable('Path', `"$InstallDir;`" + [Environment]::GetEnvironmentVariable('Path', 'User'), 'User')"
}
Say 'next: mfa-session --help; in $PROFILE: Invoke-Expression (& mfa-session init powershell | Out-String)'
