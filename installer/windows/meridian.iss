; Meridian: per-machine installer for Windows (Inno Setup 6.3 or later).
;
; Built by build.ps1, which runs PyInstaller first and passes the version from app/__init__.py:
;   iscc /DAppVersion=0.1.0 /DAppVersionNumeric=0.1.0.0 meridian.iss
;
; Installs to Program Files for all users (needs administrator rights), starts Meridian at every
; user's sign-in (HKLM Run; the "autostart" task, on by default), and ships the Group Policy
; templates in {app}\policy. Silent installs and uninstalls: installer/README.md.
;
; Uninstall keeps the person's data (%APPDATA%\Meridian) unless they say otherwise when asked,
; or unless /REMOVEDATA is given to a silent uninstall.

#ifndef AppVersion
  #error Pass /DAppVersion=x.y.z (build.ps1 reads it from app/__init__.py)
#endif
#ifndef AppVersionNumeric
  #define AppVersionNumeric AppVersion
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\meridian"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist\installer"
#endif
#ifndef PolicyDir
  #define PolicyDir "..\policy"
#endif

#define AppName "Meridian"
#define AppExe "Meridian.exe"
#define CliExe "meridian-cli.exe"

[Setup]
; Never change AppId: upgrades and the uninstaller find the installed copy by it.
AppId={{2EBBF8D4-C4E6-5441-B33D-FEB158DDA832}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Meridian contributors
AppCopyright=Meridian contributors, Apache-2.0
VersionInfoVersion={#AppVersionNumeric}
VersionInfoProductVersion={#AppVersionNumeric}
VersionInfoDescription={#AppName} setup
; Per machine: Program Files, HKLM, every user. No per-user install mode.
PrivilegesRequired=admin
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
DefaultDirName={autopf}\{#AppName}
DisableDirPage=auto
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
; An upgrade closes a running Meridian (Restart Manager) instead of asking for a reboot; silent
; installs do so without asking. force: a tray app has no window to answer a polite close, and
; nothing unsaved (its state is in SQLite transactions). It starts again at the next sign-in.
CloseApplications=force
CloseApplicationsFilter=*.exe,*.dll,*.pyd
RestartApplications=no
; The uninstaller deletes the uninstalling user's %APPDATA%\Meridian only when asked to (below).
UsedUserAreasWarning=no
SetupLogging=yes
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
OutputDir={#OutputDir}
OutputBaseFilename=Meridian-{#AppVersion}-setup
#ifdef SignToolName
; build.ps1 -SignTool "signtool.exe sign /fd sha256 /tr <timestamp url> /td sha256 /n <subject> $f"
SignTool={#SignToolName}
SignedUninstaller=yes
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "autostart"; Description: "Start {#AppName} when anyone signs in to this computer"; GroupDescription: "Start-up:"

[InstallDelete]
; A new version's bundle replaces the old one whole: no stale libraries from an older release.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
; The Group Policy templates (generated in installer/policy/), for IT to copy to the central
; store (\\<domain>\SYSVOL\<domain>\Policies\PolicyDefinitions) or to C:\Windows\PolicyDefinitions.
Source: "{#PolicyDir}\meridian.admx"; DestDir: "{app}\policy"; Flags: ignoreversion
Source: "{#PolicyDir}\en-US\meridian.adml"; DestDir: "{app}\policy\en-US"; Flags: ignoreversion

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Outlook and Google calendar sync"

[Registry]
; Start at sign-in for every user (HKLM, 64-bit view). An administrator may delete the value;
; an upgrade without the task removes it.
Root: HKLM; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "{#AppName}"; ValueData: """{app}\{#AppExe}"""; Flags: uninsdeletevalue; Tasks: autostart
Root: HKLM; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueName: "{#AppName}"; Flags: deletevalue; Tasks: not autostart

[Run]
; Interactive installs offer to start it now for the person who ran setup (not as the admin).
Filename: "{app}\{#AppExe}"; Description: "Start {#AppName} now"; Flags: nowait postinstall skipifsilent runasoriginaluser

[UninstallRun]
; Stop every user's running Meridian so that its files can be removed.
Filename: "{sys}\taskkill.exe"; Parameters: "/F /IM {#AppExe}"; Flags: runhidden; RunOnceId: "StopMeridian"

[UninstallDelete]
Type: dirifempty; Name: "{app}\policy\en-US"
Type: dirifempty; Name: "{app}\policy"
Type: dirifempty; Name: "{app}"

[Code]
var
  RemoveData: Boolean;

function HasSwitch(const Name: String): Boolean;
var
  I: Integer;
begin
  Result := False;
  for I := 1 to ParamCount do
    if CompareText(ParamStr(I), Name) = 0 then
    begin
      Result := True;
      Exit;
    end;
end;

function InitializeUninstall(): Boolean;
begin
  { Keep the data unless asked: /REMOVEDATA (silent), or Yes to the question (interactive). }
  RemoveData := HasSwitch('/REMOVEDATA');
  if (not RemoveData) and (not UninstallSilent()) then
    RemoveData := MsgBox('Also delete your {#AppName} data on this computer: settings, sync ' +
      'history, logs and sign-ins?' + #13#10 + #13#10 +
      'Choose No to keep them, for example to install {#AppName} again later. Events already ' +
      'copied stay on your calendars either way.',
      mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES;
  Result := True;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if (CurUninstallStep = usPostUninstall) and RemoveData then
  begin
    { The profile of the user running the uninstaller (platformdirs: roaming AppData). }
    DelTree(ExpandConstant('{userappdata}\{#AppName}'), True, True, True);
    DelTree(ExpandConstant('{localappdata}\{#AppName}'), True, True, True);
  end;
end;
