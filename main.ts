console.log("portal");
