// Links that Octopus's tools print point into Octopus's portal
// (/app#/Spaces-1/projects/Projects-1/…). The part after # never reaches
// the server, so this page reads it and goes to Pulpo's page for the
// same thing.
(function () {
  var parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (parts.length && /^Spaces-\d+$/i.test(parts[0])) {
    parts.shift();
  }
  var kinds = {
    projects: "/projects/", releases: "/releases/", tasks: "/tasks/",
    machines: "/machines/", workerpools: "/workerpools/"
  };
  var target = "/";
  for (var i = 0; i < parts.length; i++) {
    var kind = parts[i].toLowerCase(), id = parts[i + 1];
    if (kind === "environments") {
      target = "/environments";
    } else if (kinds[kind] && id && !kinds[id.toLowerCase()]) {
      target = kinds[kind] + encodeURIComponent(id.replace(/^ServerTasks-/, "Tasks-"));
      if (kind !== "projects") {
        break;
      }
    }
  }
  location.replace(target);
})();
