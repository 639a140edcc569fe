; Inno Setup script: Quarry's Windows installer (setup .exe) from the PyInstaller bundle.
; packaging/build.py runs it as:
;   ISCC /DAppVersion=0.1.0 /DSourceDir=build\dist\quarry /DOutputDir=dist
;        /DOutputName=quarry-0.1.0-windows-x64-setup /DIconFile=build\quarry.ico quarry.iss
; Per-user install by default (no administrator needed); Start-menu and desktop shortcuts
; open the window (Quarry.exe); quarry.exe is the console program for --ask / --search.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\build\dist\quarry"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif
#ifndef OutputName
  #define OutputName "quarry-" + AppVersion + "-windows-x64-setup"
#endif

[Setup]
AppId={{6A1F2C3E-8B4D-4E7A-9C51-2F0D9B7E4A31}
AppName=Quarry
AppVersion={#AppVersion}
AppPublisher=Quarry
AppComments=Ask questions of a folder of documents, offline, with every claim cited.
DefaultDirName={autopf}\Quarry
DefaultGroupName=Quarry
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#OutputDir}
OutputBaseFilename={#OutputName}
#ifdef IconFile
SetupIconFile={#IconFile}
#endif
UninstallDisplayIcon={app}\Quarry.exe
; The model weights do not compress; a fast method keeps the build short.
Compression=lzma2/fast
SolidCompression=no
DiskSpanning=no
WizardStyle=modern

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Quarry"; Filename: "{app}\Quarry.exe"; WorkingDir: "{app}"
Name: "{group}\Uninstall Quarry"; Filename: "{uninstallexe}"
Name: "{autodesktop}\Quarry"; Filename: "{app}\Quarry.exe"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
Filename: "{app}\Quarry.exe"; Description: "{cm:LaunchProgram,Quarry}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Anything the program cached beside itself; the user's indexes and settings stay in their
; data folder (%LOCALAPPDATA%\Quarry) for a later install.
Type: filesandordirs; Name: "{app}\_internal\__pycache__"
