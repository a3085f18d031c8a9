// Drag and drop onto the upload box (progressive enhancement: the plain form works without it).
(function () {
  var drop = document.getElementById("drop");
  var input = document.getElementById("file");
  var form = document.getElementById("upload-form");
  if (!drop || !input || !form) return;
  ["dragenter", "dragover"].forEach(function (name) {
    drop.addEventListener(name, function (e) { e.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    drop.addEventListener(name, function (e) { e.preventDefault(); drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (e) {
    if (!e.dataTransfer || !e.dataTransfer.files.length) return;
    input.files = e.dataTransfer.files;
    form.requestSubmit();
  });
  form.addEventListener("submit", function () {
    var button = document.getElementById("upload-button");
    if (button) { button.disabled = true; button.textContent = "正在校验……"; }
  });
})();
