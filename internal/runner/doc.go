// Package runner deploys a package on the machine it runs on, as Octopus's
// Calamari does: `pulpo run-package MANIFEST.json`, started by the script
// service on an agent or SSH target. Every line it and its scripts print
// goes to stdout or stderr whole; scripts' service messages pass through.
//
// The steps, in Calamari's order (DeployPackageCommand's conventions):
//
//  1. Extract the package (.tar.gz, .tgz, .tar, .zip, .nupkg) into a new
//     folder AppsRoot/[Tenant/]Environment/PackageID/Version, or Version_2,
//     Version_3… if taken (extract*.go, safepath.go). Entries that would land
//     outside the folder, device files and pipes are refused, and so is
//     expansion beyond Options' limits; a refusal leaves nothing behind.
//  2. PreDeploy scripts: the step's inline one, then the package's.
//  3. Substitute variables in the files matching SubstituteFiles
//     (substitute.go), with the template package.
//  4. Structured configuration variables in JSON, YAML, XML and .properties
//     files (structured*.go, xpath.go).
//  5. Copy to the custom installation folder, purging it first if asked
//     (custominstall.go). Later scripts run there.
//  6. Deploy, then PostDeploy scripts: the package's, then the inline one.
//
// If a step after extraction fails, DeployFailed scripts run (the
// package's, then the inline one) and the run fails naming the step. A
// script that sets Octopus.Action.SkipRemainingConventions to True ends the
// deployment, successfully, after it. Finally the journal records the
// installation and, after a success, retention removes old installations
// and cached packages (journal.go, retention.go).
//
// Scripts (scripts.go): PreDeploy.sh etc. at the package root (names ignore
// case), or PreDeploy.py when there is no .sh; .sh runs with bash. A bash
// or sh script runs through a wrapper that sources the manifest's
// bootstrap and then the script, so the bootstrap's functions exist and
// the script's line numbers are its own. A Python script is run by the
// manifest's Python bootstrap (python3 -u bootstrap.py [--pulpo-defined
// FILE] SCRIPT ARGS), which defines Octopus's Python functions and runs the
// script in the same globals; FILE holds the values the runner learned.
// The working directory is the installation folder, and the environment
// adds:
//
//	PULPO_INSTALL_DIR            the working directory: the extracted
//	                             folder, or the custom one once copied
//	PULPO_EXTRACTED_DIR          the extracted folder
//	PULPO_CUSTOM_INSTALL_DIR     the custom installation folder, if any
//	PULPO_PREVIOUS_INSTALLATION  the previous successful installation's
//	                             extracted folder ("" if none)
//	PULPO_PACKAGE_ID, PULPO_PACKAGE_VERSION, PULPO_PACKAGE_FILE
//	PULPO_PROJECT, PULPO_ENVIRONMENT, PULPO_TENANT
//	PULPO_DEPLOY_STAGE           PreDeploy, Deploy, PostDeploy, DeployFailed
//	PULPO_FAILED_STEP, PULPO_DEPLOYMENT_ERROR   for DeployFailed scripts
//
// The folder is also printed as the output variable
// Octopus.Action.Package.InstallationDirectoryPath, as Calamari does.
//
// Each script runs in a process group of its own. When the run's context
// ends (Main ends it on SIGTERM or SIGINT, which the supervisor sends on
// cancel), the group gets SIGTERM, then SIGKILL 8 s later, before the
// supervisor's own SIGKILL at 10 s; DeployFailed does not run then. A
// script that leaves a background process holding its output is waited
// for 2 s, then its output is cut (with a warning) and the step goes on:
// background processes should redirect their output.
package runner
